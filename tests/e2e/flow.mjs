// Browser end-to-end test of one complete remote session through a running hub.
//
//   node tests/e2e/flow.mjs BASE_URL OFFICER_USER OFFICER_PASS AUDITOR_USER AUDITOR_PASS
//
// Officer creates a case, applicant opens the invite on a phone-sized page, passes the device
// check and queues; the officer takes them; both see each other's video actually playing;
// recording consent, an identity check, close; the applicant gets a receipt; an auditor
// verifies the artefact. Exits 0 on success, 1 with a clear message on any failure.
// Run by tests/browser.rs (cargo test --test browser -- --ignored).

import { chromium } from 'playwright-core';
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const HARD_TIMEOUT_MS = 120_000;
const STEP_TIMEOUT_MS = 20_000;
const VIDEO_TIMEOUT_MS = 30_000;
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

const [, , BASE_ARG, OFFICER_USER, OFFICER_PASS, AUDITOR_USER, AUDITOR_PASS] = process.argv;
if (!AUDITOR_PASS) {
  console.error('usage: node tests/e2e/flow.mjs BASE_URL OFFICER_USER OFFICER_PASS AUDITOR_USER AUDITOR_PASS');
  process.exit(2);
}
const BASE = BASE_ARG.replace(/\/+$/, '');

const started = Date.now();
function log(msg) {
  console.log(`[e2e +${((Date.now() - started) / 1000).toFixed(1)}s] ${msg}`);
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let browser = null;
/** Uncaught page errors and CSP violations: each one fails the run at the end. */
const problems = [];
/** Optional directory for screenshots of each step (E2E_SCREENSHOTS=dir). */
const SHOTS = process.env.E2E_SCREENSHOTS || '';
/** name → {page, logs[]} for diagnostics on failure. */
const watched = new Map();
let failing = false;

function watch(page, name) {
  const logs = [];
  watched.set(name, { page, logs });
  const push = (line) => {
    logs.push(line);
    if (logs.length > 200) logs.shift();
  };
  page.on('console', (m) => {
    push(`console.${m.type()}: ${m.text()}`);
    if (/Content Security Policy|Trusted Type/i.test(m.text())) problems.push(`${name}: ${m.text()}`);
  });
  page.on('pageerror', (e) => {
    push(`pageerror: ${e.message}`);
    problems.push(`${name}: uncaught ${e.message}`);
  });
  page.on('requestfailed', (r) => push(`requestfailed: ${r.method()} ${r.url()} ${r.failure()?.errorText ?? ''}`));
  page.on('response', (r) => {
    if (r.status() >= 400) push(`http ${r.status()}: ${r.request().method()} ${r.url()}`);
  });
  page.on('websocket', (ws) => {
    push(`websocket open: ${ws.url()}`);
    ws.on('framereceived', (f) => push(`ws <= ${String(f.payload).slice(0, 300)}`));
    ws.on('framesent', (f) => push(`ws => ${String(f.payload).slice(0, 300)}`));
    ws.on('close', () => push('websocket closed'));
  });
  page.setDefaultTimeout(STEP_TIMEOUT_MS);
  return page;
}

async function diagnostics() {
  let dir = null;
  try {
    dir = mkdtempSync(join(tmpdir(), 'globallink-e2e-'));
  } catch {
    /* no screenshots then */
  }
  for (const [name, { page, logs }] of watched) {
    console.error(`\n----- ${name}: ${page.url()}`);
    try {
      const info = await Promise.race([
        page.evaluate(() => {
          const text = (sel) =>
            [...document.querySelectorAll(sel)]
              .filter((e) => e.getClientRects().length > 0)
              .map((e) => e.textContent.replace(/\s+/g, ' ').trim())
              .filter(Boolean);
          const v = document.querySelector('[data-testid=remote-video]');
          return {
            state: document.body.dataset.state || null,
            statuses: text('[role=status], [role=alert], .status'),
            remoteVideo: v
              ? { w: v.videoWidth, h: v.videoHeight, t: v.currentTime, paused: v.paused, readyState: v.readyState }
              : null,
            connection:
              (document.querySelector('#call-panel') || document.querySelector('#step-call'))?.dataset.connection ?? null,
          };
        }),
        sleep(3000).then(() => 'page did not answer'),
      ]);
      console.error(`${name} page state: ${JSON.stringify(info, null, 1)}`);
      const stats = await Promise.race([rtpStats(page), sleep(3000).then(() => [])]);
      if (stats.length) console.error(`${name} RTP stats:\n  ${stats.join('\n  ')}`);
      if (process.env.E2E_DEBUG_SDP) {
        const sdps = await page.evaluate(() =>
          [...(globalThis.globallinkPeers || [])].map((pc) => ({
            offer: pc.localDescription && pc.localDescription.sdp,
            answer: pc.remoteDescription && pc.remoteDescription.sdp,
          })),
        );
        for (const { offer, answer } of sdps) {
          console.error(`${name} offer SDP:\n${offer}\n${name} answer SDP:\n${answer}`);
        }
      }
    } catch (e) {
      console.error(`${name}: could not read the page (${e.message})`);
    }
    if (dir) {
      const file = join(dir, `${name}.png`);
      try {
        await Promise.race([page.screenshot({ path: file, fullPage: true }), sleep(3000)]);
        console.error(`${name} screenshot: ${file}`);
      } catch {
        /* ignore */
      }
    }
    console.error(`${name} last log lines:`);
    for (const line of logs.slice(-60)) console.error(`  ${line}`);
  }
}

async function fail(err) {
  if (failing) return;
  failing = true;
  console.error(`\n[e2e] FAILED after ${((Date.now() - started) / 1000).toFixed(1)}s: ${err && err.message ? err.message : err}`);
  try {
    await Promise.race([diagnostics(), sleep(15000)]);
  } catch {
    /* best effort */
  }
  try {
    if (browser) await Promise.race([browser.close(), sleep(5000)]);
  } catch {
    /* ignore */
  }
  process.exit(1);
}

const hardTimer = setTimeout(() => fail(new Error(`hard timeout: the flow took more than ${HARD_TIMEOUT_MS / 1000} s`)), HARD_TIMEOUT_MS);
process.on('unhandledRejection', (e) => fail(e));

let stepName = '';
async function step(name, fn) {
  stepName = name;
  log(`… ${name}`);
  try {
    const r = await fn();
    log(`✔ ${name}`);
    return r;
  } catch (e) {
    const msg = e && e.message ? e.message.split('\nCall log:')[0].trim() : String(e);
    throw new Error(`step "${name}": ${msg}`);
  }
}

/** Poll a predicate in Node until it returns a truthy value. */
async function until(what, fn, timeoutMs = STEP_TIMEOUT_MS, everyMs = 250) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await fn();
    if (last && last.ok) return last;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(last)}`);
    await sleep(everyMs);
  }
}

const tid = (id) => `[data-testid="${id}"]`;

let shotNo = 0;
/** Save a full-page screenshot when E2E_SCREENSHOTS is set (for reviewing the layout). */
async function shot(page, label) {
  if (!SHOTS) return;
  shotNo += 1;
  const file = join(SHOTS, `${String(shotNo).padStart(2, '0')}-${label}.png`);
  await page.screenshot({ path: file, fullPage: true });
}

async function visibleText(page, testid) {
  const loc = page.locator(tid(testid));
  await loc.waitFor({ state: 'visible' });
  return (await loc.textContent()).trim();
}

/** RTP counters of the page's peer connections (see globallinkPeers in web/common.js). */
async function rtpStats(page) {
  return page.evaluate(async () => {
    const out = [];
    for (const pc of globalThis.globallinkPeers || []) {
      const stats = await pc.getStats();
      stats.forEach((r) => {
        if (r.type === 'inbound-rtp') {
          out.push(
            `in ${r.kind}: packets ${r.packetsReceived} lost ${r.packetsLost} bytes ${r.bytesReceived}` +
              (r.kind === 'video'
                ? ` frames recv ${r.framesReceived} decoded ${r.framesDecoded} key ${r.keyFramesDecoded} pli-sent ${r.pliCount} nack-sent ${r.nackCount} codec ${r.codecId}`
                : ''),
          );
        } else if (r.type === 'outbound-rtp') {
          out.push(
            `out ${r.kind}: packets ${r.packetsSent} bytes ${r.bytesSent}` +
              (r.kind === 'video' ? ` frames ${r.framesEncoded} key ${r.keyFramesEncoded} pli-recv ${r.pliCount} nack-recv ${r.nackCount}` : ''),
          );
        }
      });
    }
    return out;
  });
}

/** The remote <video> has decoded frames and its clock advances. */
async function waitForRemoteVideo(page, who) {
  let baseline = null;
  const s = await until(
    `${who}'s remote video to play`,
    async () => {
      const v = await page.evaluate(() => {
        const el = document.querySelector('[data-testid="remote-video"]');
        const panel = document.querySelector('#call-panel') || document.querySelector('#step-call');
        return el
          ? {
              w: el.videoWidth,
              h: el.videoHeight,
              t: el.currentTime,
              paused: el.paused,
              readyState: el.readyState,
              tracks: el.srcObject ? el.srcObject.getTracks().map((t) => `${t.kind}:${t.readyState}`) : [],
              connection: panel ? panel.dataset.connection || null : null,
            }
          : null;
      });
      if (!v) return { ok: false, why: 'no remote video element' };
      if (v.w > 0 && baseline === null) baseline = v;
      const ok = v.w > 0 && baseline !== null && v.t > baseline.t + 0.5;
      return { ok, ...v };
    },
    VIDEO_TIMEOUT_MS,
  ).catch(async (e) => {
    let stats = [];
    try {
      stats = await rtpStats(page);
    } catch {
      /* page gone */
    }
    throw new Error(`${e.message}\n  ${who} RTP stats: ${stats.join('\n  ') || 'none'}`);
  });
  log(`${who} remote video playing: ${s.w}x${s.h}, currentTime ${s.t.toFixed(2)} s, ICE ${s.connection}`);
}

async function login(page, user, pass) {
  await page.locator(tid('login-username')).fill(user);
  await page.locator(tid('login-password')).fill(pass);
  await page.locator(tid('login-submit')).click();
  await page.waitForSelector(`body[data-auth="signed-in"], ${tid('login-error')}[data-kind="error"]`, {
    state: 'attached',
  });
  const auth = await page.evaluate(() => document.body.dataset.auth);
  if (auth !== 'signed-in') {
    throw new Error(`sign-in as ${user} refused: ${(await page.locator(tid('login-error')).textContent()).trim()}`);
  }
}

async function main() {
  log(`hub ${BASE}, chromium ${CHROMIUM}`);
  if (SHOTS) mkdirSync(SHOTS, { recursive: true });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--use-fake-device-for-media-stream',
      '--use-fake-ui-for-media-stream',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  const media = { permissions: ['camera', 'microphone'] };
  const officerCtx = await browser.newContext({ ...media, viewport: { width: 1280, height: 900 }, locale: 'en-GB' });
  const applicantCtx = await browser.newContext({
    ...media,
    viewport: { width: 390, height: 844 },
    locale: 'pt-PT',
    timezoneId: 'Europe/Lisbon',
    acceptDownloads: true,
  });
  const officer = watch(await officerCtx.newPage(), 'officer');
  const applicant = watch(await applicantCtx.newPage(), 'applicant');

  await step('officer signs in', async () => {
    await officer.goto(`${BASE}/console`);
    await login(officer, OFFICER_USER, OFFICER_PASS);
  });

  await step('officer desk connects', async () => {
    await officer.waitForSelector(`${tid('desk-status')}[data-state="connected"]`);
  });

  const inviteUrl = await step('officer creates an id-card-renewal case', async () => {
    await officer.waitForSelector(`${tid('case-service')} option[value="id-card-renewal"]`, { state: 'attached' });
    await officer.locator(tid('case-service')).selectOption('id-card-renewal');
    await officer.locator(tid('case-name')).fill('Maria Silva');
    await officer.locator(tid('case-tz')).fill('Europe/Lisbon');
    await officer.locator(tid('case-lang')).selectOption('pt');
    await officer.locator(tid('case-create')).click();
    await officer.waitForFunction(() => document.querySelector('[data-testid="invite-url"]')?.value);
    const url = await officer.locator(tid('invite-url')).inputValue();
    if (!/\/join#t=./.test(url)) throw new Error(`invite URL has no #t= fragment: ${url}`);
    if (/[?&]t=/.test(url)) throw new Error(`invite token must not be in the query string: ${url}`);
    log(`invite URL ${url.replace(/#t=.*/, '#t=…')}`);
    await shot(officer, 'officer-case-created');
    return url;
  });

  await step('applicant opens the invite and passes the device check', async () => {
    await applicant.goto(inviteUrl);
    await shot(applicant, 'applicant-device-step');
    const lang = await applicant.evaluate(() => document.documentElement.lang);
    if (lang !== 'pt') throw new Error(`applicant page language is ${lang}, expected pt (from navigator.languages)`);
    await applicant.locator(tid('device-check')).click();
    await applicant.waitForSelector(`${tid('device-result')}[data-state="ok"]`, { state: 'attached' });
  });

  await step('applicant is welcomed and joins the queue at position 1', async () => {
    const greeting = await visibleText(applicant, 'greeting');
    if (!greeting.includes('Maria Silva')) throw new Error(`greeting does not name the applicant: ${greeting}`);
    await applicant.locator(tid('join-queue')).click();
    await applicant.waitForSelector(`${tid('queue-position')}[data-position="1"]`);
    log(`applicant sees: "${await visibleText(applicant, 'queue-position')}"`);
    await shot(applicant, 'applicant-queued');
    await shot(officer, 'officer-queue');
  });

  await step('officer sees the applicant in the queue and takes next', async () => {
    await officer.waitForSelector(tid('queue-row'));
    const row = (await officer.locator(tid('queue-row')).first().textContent()).trim();
    if (!row.includes('Maria Silva')) throw new Error(`queue row does not show the applicant: ${row}`);
    await officer.waitForSelector(`${tid('take-next')}:enabled`);
    await officer.locator(tid('take-next')).click();
    await officer.waitForSelector(`${tid('call-panel')}:visible`);
    await applicant.waitForSelector(`${tid('step-call')}:visible`);
  });

  await step('both see the other side\'s video playing', async () => {
    await Promise.all([waitForRemoteVideo(officer, 'officer'), waitForRemoteVideo(applicant, 'applicant')]);
    await shot(applicant, 'applicant-call');
  });

  await step('officer requests recording consent and the applicant accepts', async () => {
    await officer.locator(tid('request-consent')).click();
    await applicant.waitForSelector(`${tid('consent-dialog')}[open]`);
    const text = await visibleText(applicant, 'consent-text');
    if (!text) throw new Error('consent dialog shows no text');
    log(`consent text (${text.length} chars): ${text.slice(0, 80)}…`);
    await shot(applicant, 'applicant-consent-dialog');
    await applicant.locator(tid('consent-accept')).click();
    await applicant.waitForSelector(`${tid('consent-dialog')}:not([open])`, { state: 'attached' });
  });

  await step('officer sees recording on and the consent acknowledged', async () => {
    await officer.locator(tid('recording-indicator')).waitFor({ state: 'visible' });
    await officer.waitForSelector(`${tid('consent-status')}[data-state="granted"]`);
    await applicant.locator(tid('recording-indicator')).waitFor({ state: 'visible' });
    const entries = await officer.locator(tid('evidence-entry')).allTextContents();
    log(`evidence so far: ${entries.join(' | ')}`);
    await shot(officer, 'officer-recording');
  });

  await step('officer records an identity check (passport L898902C3)', async () => {
    await officer.locator(tid('id-doc-type')).selectOption('passport');
    await officer.locator(tid('id-doc-number')).fill('L898902C3');
    const att = await officer.locator(tid('id-attestation')).inputValue();
    if (!att.includes('match')) throw new Error(`unexpected default attestation: ${att}`);
    await officer.locator(tid('id-outcome')).selectOption('match');
    await officer.locator(tid('id-submit')).click();
    await officer.waitForSelector(`${tid('id-status')}[data-state="recorded"]`);
  });

  const { artefactId, manifest } = await step('officer closes; both see the sealed result', async () => {
    await officer.locator(tid('close-session')).click();
    await officer.locator(tid('session-result')).waitFor({ state: 'visible' });
    const officerArtefact = await visibleText(officer, 'session-artefact');
    await applicant.locator(tid('receipt')).waitFor({ state: 'visible' });
    const artefact = await visibleText(applicant, 'receipt-artefact');
    const hash = await visibleText(applicant, 'receipt-hash');
    if (!/^[0-9a-f]{64}$/.test(hash)) throw new Error(`receipt manifest hash is not 64 hex digits: "${hash}"`);
    if (!artefact) throw new Error('receipt has no artefact id');
    if (officerArtefact !== artefact) {
      throw new Error(`officer and applicant disagree on the artefact: ${officerArtefact} vs ${artefact}`);
    }
    log(`artefact ${artefact}, manifest ${hash}`);
    await shot(applicant, 'applicant-receipt');
    await shot(officer, 'officer-closed');
    return { artefactId: artefact, manifest: hash };
  });

  await step('applicant saves the receipt', async () => {
    const [download] = await Promise.all([
      applicant.waitForEvent('download'),
      applicant.locator(tid('receipt-save')).click(),
    ]);
    const path = await download.path();
    const text = readFileSync(path, 'utf8');
    if (!text.includes(manifest) || !text.includes(artefactId)) {
      throw new Error(`saved receipt lacks the artefact id or hash:\n${text}`);
    }
    log(`receipt file ${download.suggestedFilename()} (${text.length} bytes)`);
  });

  await step('auditor signs in, verifies the artefact and downloads the bundle', async () => {
    const auditorCtx = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'en-GB' });
    const auditor = watch(await auditorCtx.newPage(), 'auditor');
    await auditor.goto(`${BASE}/audit`);
    await login(auditor, AUDITOR_USER, AUDITOR_PASS);
    const button = auditor.locator(`${tid('verify-artefact')}[data-artefact-id="${artefactId}"]`);
    await button.waitFor({ state: 'visible' });
    await button.click();
    const result = auditor.locator(`${tid('verify-result')}[data-artefact-id="${artefactId}"]`);
    await auditor.waitForSelector(
      `${tid('verify-result')}[data-artefact-id="${artefactId}"][data-ok]`,
      { state: 'attached' },
    );
    const ok = await result.getAttribute('data-ok');
    const report = (await result.innerText()).trim();
    await shot(auditor, 'auditor-verified');
    if (ok !== 'true') throw new Error(`verification did not pass:\n${report}`);
    const checks = await result
      .locator(tid('verify-check'))
      .evaluateAll((els) => els.map((e) => `${e.dataset.name}=${e.dataset.ok === 'true' ? 'ok' : 'FAILED'}`));
    log(`verify checks: ${checks.join(', ')}`);
    const href = await auditor
      .locator(`${tid('artefact-download')}[data-artefact-id="${artefactId}"]`)
      .first()
      .getAttribute('href');
    const res = await auditorCtx.request.get(new URL(href, BASE).href);
    const body = await res.body();
    if (!res.ok()) throw new Error(`bundle download answered ${res.status()}`);
    if (body.subarray(0, 2).toString('latin1') !== 'PK') throw new Error('bundle download is not a zip file');
    log(`bundle ${href}: ${body.length} bytes`);
  });

  if (problems.length) {
    throw new Error(`the pages reported errors or CSP violations:\n  ${problems.join('\n  ')}`);
  }
  clearTimeout(hardTimer);
  await Promise.race([browser.close(), sleep(5000)]);
  log(`PASS: the whole flow worked in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  process.exit(0);
}

main().catch((e) => fail(e.message && !e.message.startsWith('step') && stepName ? new Error(`step "${stepName}": ${e.message}`) : e));
