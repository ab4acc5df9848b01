import { expect } from 'chai';
import { isZiggyError } from '../../src/errors';
import {
  checkSampleSpec,
  decideEnabled,
  decideSample,
  decisionOwner,
  levelNames,
  randomSource,
  setRandomSource,
  type RandomSource,
  type SampleNode,
} from '../../src/client/sampling';

/** A random source that returns the given values in turn and counts its calls. */
function scripted(...values: number[]): RandomSource & { calls: number } {
  const rng = Object.assign(
    () => {
      if (rng.calls >= values.length) throw new Error('random source asked more often than scripted');
      return values[rng.calls++];
    },
    { calls: 0 },
  );
  return rng;
}

function node(name: string, parent: SampleNode | null = null, enabled = true): SampleNode {
  return { name, parent, enabled };
}

describe('client/sampling', () => {
  describe('decideSample', () => {
    it('keeps when the draw is below the rate, drops otherwise', () => {
      expect(decideSample(0.25, scripted(0.1))).to.equal(true);
      expect(decideSample(0.25, scripted(0.25))).to.equal(false);
      expect(decideSample(0.25, scripted(0.9))).to.equal(false);
    });

    it('never draws for rates of 0 or 1', () => {
      const rng = scripted();
      expect(decideSample(1, rng)).to.equal(true);
      expect(decideSample(0, rng)).to.equal(false);
      expect(rng.calls).to.equal(0);
    });

    it('keeps about the rate over many draws with Math.random', () => {
      let kept = 0;
      for (let i = 0; i < 20000; i++) if (decideSample(0.25, Math.random)) kept++;
      expect(kept / 20000).to.be.within(0.22, 0.28);
    });
  });

  describe('checkSampleSpec', () => {
    it('accepts [level, rate] pairs', () => {
      expect(checkSampleSpec(['..', 0.25])).to.deep.equal(['..', 0.25]);
      expect(checkSampleSpec(['request', 0])).to.deep.equal(['request', 0]);
    });

    it('refuses anything else with BAD_CONFIG', () => {
      for (const bad of [null, 'x', [], ['..'], ['..', 2], ['..', -0.1], ['..', Number.NaN], ['', 0.5], [1, 0.5], ['..', '0.5']]) {
        let err: unknown;
        try {
          checkSampleSpec(bad);
        } catch (e) {
          err = e;
        }
        expect(isZiggyError(err, 'BAD_CONFIG'), JSON.stringify(bad)).to.equal(true);
      }
    });
  });

  describe('levelNames', () => {
    it('matches the full name or a dotted tail of it', () => {
      expect(levelNames('request.memcache', 'request.memcache')).to.equal(true);
      expect(levelNames('memcache', 'request.memcache')).to.equal(true);
      expect(levelNames('api.memcache', 'request.api.memcache')).to.equal(true);
      expect(levelNames('cache', 'request.memcache')).to.equal(false);
      expect(levelNames('request', 'request.memcache')).to.equal(false);
      expect(levelNames('.memcache', 'request.memcache')).to.equal(false);
    });
  });

  describe('decisionOwner', () => {
    const request = node('request');
    const handler = node('request.handler', request);

    it("is the context itself (null) for '.' and for its own name", () => {
      expect(decisionOwner('.', 'request.handler.memcache', handler)).to.equal(null);
      expect(decisionOwner('memcache', 'request.handler.memcache', handler)).to.equal(null);
      expect(decisionOwner('request.handler.memcache', 'request.handler.memcache', handler)).to.equal(null);
    });

    it("is the parent for '..', and the context itself with no parent", () => {
      expect(decisionOwner('..', 'request.handler.memcache', handler)).to.equal(handler);
      expect(decisionOwner('..', 'memcache', null)).to.equal(null);
    });

    it('is the nearest ancestor so named, or the context itself when none is', () => {
      expect(decisionOwner('request', 'request.handler.memcache', handler)).to.equal(request);
      expect(decisionOwner('handler', 'request.handler.memcache', handler)).to.equal(handler);
      expect(decisionOwner('job', 'request.handler.memcache', handler)).to.equal(null);
    });
  });

  describe('decideEnabled', () => {
    it('is enabled without a spec and under an enabled parent, without drawing', () => {
      const rng = scripted();
      expect(decideEnabled(undefined, 'request', null, rng)).to.equal(true);
      expect(decideEnabled(undefined, 'request.sql', node('request'), rng)).to.equal(true);
      expect(rng.calls).to.equal(0);
    });

    it('is disabled under a disabled parent, whatever the spec, without drawing', () => {
      const rng = scripted();
      const off = node('request', null, false);
      expect(decideEnabled(undefined, 'request.sql', off, rng)).to.equal(false);
      expect(decideEnabled(['.', 1], 'request.sql', off, rng)).to.equal(false);
      expect(rng.calls).to.equal(0);
    });

    it("decides '..' once per parent per child type", () => {
      const rng = scripted(0.1, 0.9, 0.9);
      const r1 = node('request');
      const r2 = node('request');
      // First request: memcache kept (0.1 < 0.25) for every memcache context.
      expect(decideEnabled(['..', 0.25], 'request.memcache', r1, rng)).to.equal(true);
      expect(decideEnabled(['..', 0.25], 'request.memcache', r1, rng)).to.equal(true);
      expect(decideEnabled(['..', 0.25], 'request.memcache', r1, rng)).to.equal(true);
      // Another child type under the same parent draws its own decision.
      expect(decideEnabled(['..', 0.25], 'request.sql', r1, rng)).to.equal(false);
      // Second request: dropped for all of its memcache contexts.
      expect(decideEnabled(['..', 0.25], 'request.memcache', r2, rng)).to.equal(false);
      expect(decideEnabled(['..', 0.25], 'request.memcache', r2, rng)).to.equal(false);
      expect(rng.calls).to.equal(3);
    });

    it("decides '.' and the own name for every context", () => {
      const rng = scripted(0.1, 0.9, 0.1, 0.9);
      const parent = node('request');
      expect(decideEnabled(['.', 0.5], 'request.memcache', parent, rng)).to.equal(true);
      expect(decideEnabled(['.', 0.5], 'request.memcache', parent, rng)).to.equal(false);
      expect(decideEnabled(['memcache', 0.5], 'request.memcache', parent, rng)).to.equal(true);
      expect(decideEnabled(['memcache', 0.5], 'request.memcache', parent, rng)).to.equal(false);
      expect(rng.calls).to.equal(4);
    });

    it("treats '..' with no parent like '.'", () => {
      const rng = scripted(0.1, 0.9);
      expect(decideEnabled(['..', 0.5], 'memcache', null, rng)).to.equal(true);
      expect(decideEnabled(['..', 0.5], 'memcache', null, rng)).to.equal(false);
      expect(rng.calls).to.equal(2);
    });

    it('decides [ancestor, r] once per that ancestor, across intermediate parents', () => {
      const rng = scripted(0.9, 0.1);
      const request = node('request');
      const h1 = node('request.handler', request);
      const h2 = node('request.handler', request);
      expect(decideEnabled(['request', 0.5], 'request.handler.memcache', h1, rng)).to.equal(false);
      expect(decideEnabled(['request', 0.5], 'request.handler.memcache', h2, rng)).to.equal(false);
      const other = node('request');
      const h3 = node('request.handler', other);
      expect(decideEnabled(['request', 0.5], 'request.handler.memcache', h3, rng)).to.equal(true);
      expect(rng.calls).to.equal(2);
    });
  });

  describe('setRandomSource', () => {
    it('replaces the source and returns the previous one', () => {
      const mine: RandomSource = () => 0.5;
      const before = setRandomSource(mine);
      try {
        expect(randomSource()).to.equal(mine);
      } finally {
        setRandomSource(before);
      }
      expect(randomSource()).to.equal(before);
    });
  });
});
