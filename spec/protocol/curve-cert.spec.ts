import { expect } from 'chai';
import { readFileSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  formatCertificate,
  loadClientKeys,
  parseCertificate,
  readAuthorizedKeys,
  readCertificate,
  readSecretCertificate,
  resolveServerKey,
  writeCertificates,
} from '../../src/protocol/curve-cert';
import { codeOf } from '../helpers/client';
import { tempDir } from '../helpers/net';

const FIXTURES = join(__dirname, '..', 'fixtures', 'curve');
const PYZMQ_PUBLIC = 'ek:*7-C].@H!/opidtboSbHz5J^ixp6uI1HEb4mF';
const PYZMQ_SECRET = '=JM]k1H*Mk&2kZMUb^#[j%tb)-+@@%0rII+S?xP+';

describe('CURVE certificates', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  beforeEach(async () => (dir = await tempDir('ziggy-cert-')));
  afterEach(() => dir.remove());

  describe("files written by pyzmq's zmq.auth and CZMQ's zcert", () => {
    it('loads the public and the secret file of a pyzmq certificate', () => {
      expect(readCertificate(join(FIXTURES, 'pyzmq-client.key'))).to.deep.equal({ publicKey: PYZMQ_PUBLIC, metadata: {} });
      const secret = readSecretCertificate(join(FIXTURES, 'pyzmq-client.key_secret'));
      expect(secret).to.deep.equal({ publicKey: PYZMQ_PUBLIC, secretKey: PYZMQ_SECRET, metadata: {} });
    });

    it('loads a CZMQ certificate with quoted metadata', () => {
      const cert = readSecretCertificate(join(FIXTURES, 'czmq-web-1.key_secret'));
      expect(cert.metadata).to.deep.equal({ name: 'web-1', email: 'ops@example.com' });
      expect(cert.publicKey).to.equal('z{quYFxK.Xq2oVL}sfO8ABdAqZNG[!xLu>?2pDGO');
    });

    it("writes the fixture's exact bytes for the same keys and time (pyzmq's layout, our name in the banner)", () => {
      const when = new Date(2026, 11, 6, 5, 31, 7, 412);
      const cert = { publicKey: PYZMQ_PUBLIC, secretKey: PYZMQ_SECRET, metadata: {} };
      const pyzmq = (name: string): string => readFileSync(join(FIXTURES, name), 'utf8').replace('412093 by pyzmq', '412000 by ziggy');
      expect(formatCertificate(cert, true, when)).to.equal(pyzmq('pyzmq-client.key_secret'));
      expect(formatCertificate({ publicKey: PYZMQ_PUBLIC, metadata: {} }, false, when)).to.equal(pyzmq('pyzmq-client.key'));
    });
  });

  describe('keygen (writeCertificates)', () => {
    it('writes NAME.key and NAME.key_secret (mode 0600) that load again, the public key in both', () => {
      const base = join(dir.path, 'web-1');
      const { publicFile, secretFile, publicKey } = writeCertificates(base);
      expect(publicFile).to.equal(`${base}.key`);
      expect(secretFile).to.equal(`${base}.key_secret`);
      expect(statSync(secretFile).mode & 0o777).to.equal(0o600);
      const pub = readCertificate(publicFile);
      const sec = readSecretCertificate(secretFile);
      expect(pub.publicKey).to.equal(publicKey);
      expect(pub.secretKey).to.equal(undefined);
      expect(sec.publicKey).to.equal(publicKey);
      expect(sec.secretKey).to.have.length(40);
    });

    it('is read the way pyzmq reads: every non-comment line starting with public-key / secret-key', () => {
      const { secretFile } = writeCertificates(join(dir.path, 'a'));
      // pyzmq's load_certificate, line for line: strip, skip '#', split on the first '=', strip quotes
      const keys: Record<string, string> = {};
      for (const raw of readFileSync(secretFile, 'utf8').split('\n')) {
        const line = raw.trim();
        if (line.startsWith('#')) continue;
        for (const k of ['public-key', 'secret-key'])
          if (line.startsWith(k))
            keys[k] = line
              .split('=')
              .slice(1)
              .join('=')
              .trim()
              .replace(/^["' \t]+|["' \t]+$/g, '');
      }
      const cert = readSecretCertificate(secretFile);
      expect(keys).to.deep.equal({ 'public-key': cert.publicKey, 'secret-key': cert.secretKey });
    });

    it('refuses to overwrite an existing key', () => {
      const base = join(dir.path, 'k');
      writeCertificates(base);
      const before = readFileSync(`${base}.key_secret`, 'utf8');
      expect(codeOf(() => writeCertificates(base))).to.equal('IO');
      expect(readFileSync(`${base}.key_secret`, 'utf8')).to.equal(before);
    });
  });

  describe('bad certificates', () => {
    it('names the file and what is wrong', () => {
      expect(() => parseCertificate('metadata\ncurve\n', 'x.key')).to.throw('x.key: no public-key in this certificate');
      expect(() => parseCertificate('curve\n    public-key = "short"\n', 'x.key')).to.throw('x.key: public-key is not a 40-character Z85 key');
      expect(() => readSecretCertificate(join(FIXTURES, 'pyzmq-client.key'))).to.throw(/no secret-key in this certificate \(give the \.key_secret file/);
      expect(codeOf(() => readCertificate(join(dir.path, 'missing.key')))).to.equal('IO');
    });
  });

  describe('authorized keys folder', () => {
    it('collects the public key of every *.key file, ignoring other files', () => {
      const keys = join(dir.path, 'authorized');
      mkdirSync(keys);
      const a = writeCertificates(join(keys, 'a'));
      writeFileSync(join(keys, 'notes.txt'), 'not a key');
      writeFileSync(join(keys, 'b.key'), readFileSync(join(FIXTURES, 'pyzmq-client.key')));
      const found = readAuthorizedKeys(keys);
      expect([...found.keys()].sort()).to.deep.equal([a.publicKey, PYZMQ_PUBLIC].sort());
      expect(found.get(PYZMQ_PUBLIC)).to.equal(join(keys, 'b.key'));
    });

    it('refuses a broken .key file and a missing folder', () => {
      const keys = join(dir.path, 'authorized');
      mkdirSync(keys);
      writeFileSync(join(keys, 'typo.key'), 'curve\n    public-key = "oops"\n');
      expect(() => readAuthorizedKeys(keys)).to.throw(/typo\.key: public-key is not/);
      expect(codeOf(() => readAuthorizedKeys(join(dir.path, 'none')))).to.equal('IO');
    });
  });

  describe('client keys', () => {
    it('takes the server key as Z85 text or as a certificate path', () => {
      expect(resolveServerKey(PYZMQ_PUBLIC)).to.equal(PYZMQ_PUBLIC);
      expect(resolveServerKey(join(FIXTURES, 'pyzmq-client.key'))).to.equal(PYZMQ_PUBLIC);
      expect(() => resolveServerKey(join(dir.path, 'nope.key'), '--server-key')).to.throw(/^--server-key: not a 40-character Z85 key, and cannot read/);
      // a path that happens to be 40 Z85 characters long is still a path when the file exists
      const base = join(dir.path, 'k'.repeat(40 - dir.path.length - '/.key'.length));
      const { publicFile, publicKey } = writeCertificates(base);
      expect(publicFile).to.have.length(40);
      expect(resolveServerKey(publicFile)).to.equal(publicKey);
    });

    it('wants both or neither of serverKey and certificate', () => {
      expect(loadClientKeys({})).to.equal(undefined);
      expect(loadClientKeys({ serverKey: PYZMQ_PUBLIC, certificate: join(FIXTURES, 'pyzmq-client.key_secret') })).to.deep.equal({
        serverKey: PYZMQ_PUBLIC,
        publicKey: PYZMQ_PUBLIC,
        secretKey: PYZMQ_SECRET,
      });
      expect(codeOf(() => loadClientKeys({ serverKey: PYZMQ_PUBLIC }))).to.equal('BAD_CONFIG');
      expect(codeOf(() => loadClientKeys({ certificate: join(FIXTURES, 'pyzmq-client.key_secret') }))).to.equal('BAD_CONFIG');
    });
  });
});
