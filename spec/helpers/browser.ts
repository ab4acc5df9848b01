import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'puppeteer-core';

/** Debian's chromium, which the browser specs drive (`.ci/run` installs it when missing). */
export const CHROMIUM = '/usr/bin/chromium';

/** The one line a skipped browser spec gives as its reason. */
export const NO_CHROMIUM = `no ${CHROMIUM}: browser specs skipped (apt-get install chromium)`;

export function haveChromium(): boolean {
  return existsSync(CHROMIUM);
}

/** A headless chromium with a fresh profile; close() removes the profile too. */
export async function launchChromium(): Promise<{ browser: Browser; close: () => Promise<void> }> {
  const { launch } = await import('puppeteer-core');
  const profile = await mkdtemp(join(tmpdir(), 'ziggy-chromium-'));
  const browser = await launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      `--user-data-dir=${profile}`,
    ],
  });
  return {
    browser,
    close: async () => {
      await browser.close().catch(() => undefined);
      await rm(profile, { recursive: true, force: true });
    },
  };
}
