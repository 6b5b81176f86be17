import fs from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/** Debian's Chromium (`apt-get install -y chromium`; `npm test` installs it when missing). No browser download. */
export const CHROMIUM = '/usr/bin/chromium';

/**
 * Flags for a closed network: without the background-networking ones Chromium keeps
 * calling home (component updates, sync, field trials) and floods refused connections.
 */
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** A headless Chromium with a fresh profile (Playwright gives every launch a new temporary user data dir). */
export async function launchChromium(): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run 'apt-get install -y chromium' (npm test does it when run as root)`);
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
}
