// Browser end-to-end test of one complete remote session through a running hub.
//
//   node tests/e2e/flow.mjs BASE_URL OFFICER_USER OFFICER_PASS AUDITOR_USER AUDITOR_PASS
//
// Officer creates an inheritance case, applicant opens the invite on a phone-sized page,
// passes the device check and queues; the officer takes them; both see each other's video
// actually playing; four consents (the first with the "kept whatever you answer" notice), an
// identity check (a refused one first), liveness, a still from the applicant's video, two
// supporting PDFs (a mismatched one refused first), the heir's declaration; the checklist is
// complete; "My consents" lists four grants; close with outcome `completed`; the applicant gets
// a receipt; an auditor verifies the artefact. Along the way the connections drop (steps
// prefixed `[reconnect]`): the applicant goes offline and loses its socket, the officer's socket
// closes, then the officer reloads the console; each time the page reconnects by itself, the
// hub resumes the same session, the other side is told "reconnecting" then "rejoined", and
// both videos decode new frames again. Before closing, the officer invites an interpreter from
// the console (steps prefixed `[guest]`), who opens the link in another browser, knocks, is
// admitted and sees the others, as they see the interpreter in a captioned tile.
//
// Then a second scenario, booking across time zones: the officer creates a case for a Lisbon
// applicant (phone, Europe/Lisbon); the console header shows at least four clocks (Beijing
// first, Lisbon among them); the applicant widens their hours to 00:00–23:59 (after an unknown
// zone is refused with the hub's message) so slots exist whatever the weekday, sees slots by
// Lisbon date with both Lisbon and Beijing times, books one, downloads the .ics
// (TZID=Europe/Lisbon), reschedules (a slot taken meanwhile by another applicant gives a kind
// 409 and a refreshed list), cancels; the console's bookings panel follows each change live.
//
// Exits 0 on success, 1 with a clear message on any failure.
// Run by tests/browser.rs (cargo test --test browser -- --ignored).

import { chromium } from 'playwright-core';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const HARD_TIMEOUT_MS = 170_000;
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
  /** Every URL the page requested (to check that no invite token ever travels in one). */
  const urls = [];
  watched.set(name, { page, logs, urls });
  page.on('request', (r) => urls.push(r.url()));
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
            `in ${r.kind}: ssrc ${r.ssrc} mid ${r.mid ?? '?'} packets ${r.packetsReceived} lost ${r.packetsLost} bytes ${r.bytesReceived}` +
              (r.kind === 'video'
                ? ` frames recv ${r.framesReceived} decoded ${r.framesDecoded} key ${r.keyFramesDecoded} pli-sent ${r.pliCount} nack-sent ${r.nackCount} codec ${r.codecId}`
                : ''),
          );
        } else if (r.type === 'outbound-rtp') {
          out.push(
            `out ${r.kind}: ssrc ${r.ssrc} packets ${r.packetsSent} bytes ${r.bytesSent}` +
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

/** Video frames decoded so far by the page's open peer connections. */
async function framesDecoded(page) {
  return page.evaluate(async () => {
    let n = 0;
    for (const pc of globalThis.globallinkPeers || []) {
      const stats = await pc.getStats();
      stats.forEach((r) => {
        if (r.type === 'inbound-rtp' && r.kind === 'video') n += r.framesDecoded || 0;
      });
    }
    return n;
  });
}

/**
 * After a reconnection: the remote video plays (as waitForRemoteVideo) and new frames are
 * being decoded now, so a frozen last frame does not pass.
 */
async function waitForFreshVideo(page, who) {
  await waitForRemoteVideo(page, who);
  const first = await framesDecoded(page);
  const s = await until(
    `${who}'s video to decode new frames`,
    async () => {
      const now = await framesDecoded(page);
      return { ok: now >= first + 10, first, now };
    },
    VIDEO_TIMEOUT_MS,
    300,
  );
  log(`${who} decodes new frames: ${s.first} → ${s.now}`);
}

/** Close the page's signalling WebSocket, as a dropped connection would (test hook in common.js). */
async function dropSignal(page, who) {
  const closed = await page.evaluate(() => {
    const link = globalThis.globallinkSignal;
    const socket = link && link.socket;
    if (!socket || socket.readyState !== WebSocket.OPEN) return false;
    socket.close(4001, 'e2e: connection dropped');
    return true;
  });
  if (!closed) throw new Error(`${who} has no open signalling socket to drop (globalThis.globallinkSignal)`);
}

/** The `data-history` of a page's peer-notice (peer_state values shown, oldest first). */
async function peerHistory(page) {
  return ((await page.locator(tid('peer-notice')).getAttribute('data-history')) || '').split(' ').filter(Boolean);
}

/** Wait until the peer-notice history has grown by `states` (in that order) past `before`. */
async function expectPeerStates(page, who, before, states) {
  const r = await until(`${who} to be told ${states.join(' then ')}`, async () => {
    const h = await peerHistory(page);
    const added = h.slice(before.length);
    return { ok: states.every((st, i) => added[i] === st), history: h };
  });
  return r.history;
}

/** Evidence events listed in the console's evidence log. */
async function evidenceEvents(page) {
  return page.locator(tid('evidence-entry')).evaluateAll((els) => els.map((e) => e.dataset.event));
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

/** A small but well-formed one-page PDF (header, objects, xref with real offsets, trailer). */
function makePdf(title) {
  const text = `BT /F1 18 Tf 72 720 Td (${title.replace(/[()\\]/g, '')}) Tj ET`;
  const objects = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>',
    `<< /Length ${Buffer.byteLength(text, 'latin1')} >>\nstream\n${text}\nendstream`,
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>',
  ];
  let out = '%PDF-1.4\n';
  const offsets = [];
  objects.forEach((body, i) => {
    offsets.push(Buffer.byteLength(out, 'latin1'));
    out += `${i + 1} 0 obj\n${body}\nendobj\n`;
  });
  const xref = Buffer.byteLength(out, 'latin1');
  out += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  for (const o of offsets) out += `${String(o).padStart(10, '0')} 00000 n \n`;
  out += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(out, 'latin1');
}

const CONSENTS = ['recording', 'personal-information', 'cross-border-transfer', 'e-signature'];
const ID_NUMBER = '11010519491231002X';
const ID_NUMBER_BAD_CHECK = '110105194912310021';
const ID_VALID_UNTIL = '2036-01-01';
/** The ICAO 9303 TD3 specimen: every check digit right, expired in 2012. */
const PASSPORT_MRZ_EXPIRED = 'P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nL898902C36UTO7408122F1204159ZE184226B<<<<<10';

/** Wait until `selector` has one of the `data-state` values; returns the state. */
async function stateOf(page, testid, states, extra = '') {
  const sel = states.map((s) => `${tid(testid)}${extra}[data-state="${s}"]`).join(', ');
  await page.waitForSelector(sel, { state: 'attached' });
  return page.locator(`${tid(testid)}${extra}`).first().getAttribute('data-state');
}

// ---------------------------------------------------------------- scenario 2: booking across zones

/** The desk pushes bookings from 12 h ago to 36 h ahead to the console (docs/protocol.md). */
const CONSOLE_AHEAD_MS = 36 * 3600 * 1000;
const HOUR_MS = 3600 * 1000;

/** Wall clock of an instant in a zone as Node's ICU sees it: an independent check of the pages. */
function wall(iso, tz) {
  const d = new Date(iso);
  const p = Object.fromEntries(
    new Intl.DateTimeFormat('en-GB', {
      timeZone: tz,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    })
      .formatToParts(d)
      .filter((x) => x.type !== 'literal')
      .map((x) => [x.type, x.value]),
  );
  const hour = p.hour === '24' ? '00' : p.hour;
  const asUtc = Date.UTC(+p.year, +p.month - 1, +p.day, +hour, +p.minute, +p.second);
  const minutes = Math.round((asUtc - Math.floor(d.getTime() / 1000) * 1000) / 60000);
  const abs = Math.abs(minutes);
  const offset = `UTC${minutes < 0 ? '-' : '+'}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
  return {
    date: `${p.year}-${p.month}-${p.day}`,
    hhmm: `${hour}:${p.minute}`,
    hhmmss: `${hour}:${p.minute}:${p.second}`,
    hour: +hour,
    offset,
    ics: `${p.year}${p.month}${p.day}T${hour}${p.minute}${p.second}`,
  };
}

const sameInstant = (a, b) => new Date(a).getTime() === new Date(b).getTime();

/** What the console header shows, clock by clock. */
async function readClocks(page) {
  return page.locator(tid('clock')).evaluateAll((els) =>
    els.map((e) => {
      const part = (n) => e.querySelector(`[data-part="${n}"]`);
      return {
        zone: e.dataset.zone,
        role: e.dataset.role,
        night: e.dataset.night,
        nightClass: e.classList.contains('is-night'),
        city: part('city').textContent.trim(),
        time: part('time').textContent.trim(),
        offset: part('offset').textContent.trim(),
        date: part('date').hidden ? '' : part('date').textContent.trim(),
        cue: part('cue').textContent.trim(),
      };
    }),
  );
}

/** Check every clock against Node's own reading of the same zone. */
function checkClocks(clocks, when) {
  if (clocks.length < 4) throw new Error(`only ${clocks.length} clocks: ${JSON.stringify(clocks)}`);
  if (clocks[0].zone !== 'Asia/Shanghai' || clocks[0].city !== 'Beijing') {
    throw new Error(`the first clock is not Beijing: ${JSON.stringify(clocks[0])}`);
  }
  const zones = clocks.map((c) => c.zone);
  if (new Set(zones).size !== zones.length) throw new Error(`a zone appears twice: ${zones.join(', ')}`);
  const beijingDate = wall(when, 'Asia/Shanghai').date;
  for (const c of clocks) {
    const w = wall(when, c.zone);
    const earlier = wall(new Date(new Date(when).getTime() - 2000).toISOString(), c.zone);
    if (!/^\d\d:\d\d:\d\d$/.test(c.time)) throw new Error(`${c.zone}: time "${c.time}" is not HH:MM:SS`);
    if (c.time.slice(0, 5) !== w.hhmm && c.time.slice(0, 5) !== earlier.hhmm) {
      throw new Error(`${c.zone}: shows ${c.time}, expected about ${w.hhmmss}`);
    }
    if (c.offset !== w.offset) throw new Error(`${c.zone}: offset ${c.offset}, expected ${w.offset}`);
    const night = w.hour < 7 || w.hour >= 20;
    const nightEarlier = earlier.hour < 7 || earlier.hour >= 20;
    if (c.night !== String(night) && c.night !== String(nightEarlier)) {
      throw new Error(`${c.zone}: night=${c.night} at ${c.time}`);
    }
    if (c.nightClass !== (c.night === 'true') || c.cue !== (c.night === 'true' ? '☾' : '☀')) {
      throw new Error(`${c.zone}: the day/night cue does not match: ${JSON.stringify(c)}`);
    }
    if ((w.date !== beijingDate) !== (c.date !== '') && (earlier.date !== beijingDate) !== (c.date !== '')) {
      throw new Error(`${c.zone}: date "${c.date}" shown wrongly (local ${w.date}, Beijing ${beijingDate})`);
    }
  }
}

/** Rows of the console's bookings panel. */
async function consoleBookings(page) {
  return page.locator(tid('booking-row')).evaluateAll((rows) =>
    rows.map((r) => ({
      id: r.dataset.bookingId,
      caseId: r.dataset.caseId,
      start: r.dataset.start,
      tz: r.dataset.tz,
      office: r.querySelector('[data-testid="booking-office"]').textContent.trim(),
      local: r.querySelector('[data-testid="booking-local"]').textContent.trim(),
      name: r.querySelector('[data-testid="booking-name"]').textContent.trim(),
    })),
  );
}

async function bookingUpdates(page) {
  return Number(await page.locator(tid('bookings-panel')).getAttribute('data-updates'));
}

/**
 * After a booking change: the console's panel got a live `bookings` message, and (when `start`
 * is inside the window the desk pushes) shows the case's booking at `start` with both times,
 * or (start null) no longer shows the case.
 */
async function expectConsoleBooking(page, before, caseId, start, tz) {
  await until('a live bookings update on the console', async () => {
    const n = await bookingUpdates(page);
    return { ok: n > before, updates: n };
  });
  if (start && new Date(start).getTime() - Date.now() > CONSOLE_AHEAD_MS) {
    log(`booking at ${start} is beyond the 36 h the desk pushes: the console got the update but does not list it`);
    return null;
  }
  const row = await until(`the console's bookings panel to show case ${caseId} at ${start}`, async () => {
    const rows = (await consoleBookings(page)).filter((r) => r.caseId === caseId);
    if (!start) return { ok: rows.length === 0, rows };
    return { ok: rows.length === 1 && sameInstant(rows[0].start, start), rows, row: rows[0] };
  });
  if (!start) return null;
  const r = row.row;
  const office = wall(start, 'Asia/Shanghai');
  const local = wall(start, tz);
  if (!r.office.includes(office.hhmm)) throw new Error(`Beijing start "${r.office}" lacks ${office.hhmm}`);
  if (!r.local.includes(local.hhmm) || !r.local.includes(tz.split('/').pop().replace(/_/g, ' '))) {
    throw new Error(`local start "${r.local}" lacks ${local.hhmm} or the city of ${tz}`);
  }
  log(`console row: ${r.name} · Beijing ${r.office} · local ${r.local}`);
  return r;
}

async function bookingScenario(officer, officerCtx, tokens) {
  const applicantCtx = await browser.newContext({
    viewport: { width: 390, height: 844 },
    locale: 'pt-PT',
    timezoneId: 'Europe/Lisbon',
    acceptDownloads: true,
  });
  const applicant = watch(await applicantCtx.newPage(), 'booking-applicant');
  const ZONE = 'Europe/Lisbon';
  const NAME = 'João Pereira';

  const { inviteUrl, caseId, token } = await step('[booking] officer creates an id-card-renewal case for a Lisbon applicant', async () => {
    const previous = await officer.locator(tid('invite-url')).inputValue();
    await officer.locator(tid('case-service')).selectOption('id-card-renewal');
    await officer.locator(tid('case-name')).fill(NAME);
    await officer.locator(tid('case-tz')).fill(ZONE);
    await officer.locator(tid('case-lang')).selectOption('pt');
    await officer.locator(tid('case-create')).click();
    await officer.waitForFunction(
      (prev) => {
        const v = document.querySelector('[data-testid="invite-url"]')?.value;
        return v && v !== prev;
      },
      previous,
    );
    const url = await officer.locator(tid('invite-url')).inputValue();
    const id = await officer.locator(tid('invite-url')).getAttribute('data-case-id');
    const t = decodeURIComponent(new URL(url).hash.replace(/^#t=/, ''));
    if (!id || !t) throw new Error(`no case id or token from ${url.replace(/#t=.*/, '#t=…')}`);
    tokens.push(t);
    return { inviteUrl: url, caseId: id, token: t };
  });

  await step('[booking] console header: ≥ 4 clocks, Beijing first, Lisbon among them, ticking', async () => {
    const first = await readClocks(officer);
    checkClocks(first, new Date().toISOString());
    if (!first.some((c) => c.zone === ZONE)) throw new Error(`no Lisbon clock: ${first.map((c) => c.zone).join(', ')}`);
    await sleep(1100);
    const second = await readClocks(officer);
    if (second[0].time === first[0].time) throw new Error(`the Beijing clock does not tick (${first[0].time})`);
    log(`clocks: ${second.map((c) => `${c.city} ${c.time} ${c.offset}${c.date ? ` ${c.date}` : ''} ${c.cue}`).join(' | ')}`);
    await shot(officer, 'officer-clocks');
  });

  await step('[booking] applicant opens the invite: desk hours in both zones, no zone mismatch offered', async () => {
    await applicant.goto(inviteUrl);
    await applicant.locator(tid('booking-panel')).waitFor({ state: 'visible' });
    await applicant.waitForSelector(`${tid('desk-status')}[data-state]`);
    const desk = await applicant.locator(tid('desk-status')).getAttribute('data-state');
    const text = await visibleText(applicant, 'desk-status');
    if (desk === 'closed') {
      const opens = await applicant.locator(tid('desk-status')).getAttribute('data-opens');
      if (opens) {
        const l = wall(opens, ZONE);
        const b = wall(opens, 'Asia/Shanghai');
        if (!text.includes(l.hhmm) || !text.includes(b.hhmm) || !text.includes('Lisbon')) {
          throw new Error(`closed-desk notice lacks ${l.hhmm} Lisbon or ${b.hhmm} Beijing: "${text}"`);
        }
      }
    }
    log(`desk ${desk}: "${text}"`);
    if (await applicant.locator(tid('tz-offer')).isVisible()) throw new Error('a zone change is offered although the device is in Lisbon too');
  });

  await step('[booking] "My time and hours": an unknown zone is refused with the hub\'s message, then 00:00–23:59 is saved', async () => {
    await applicant.locator(tid('prefs-toggle')).click();
    await applicant.locator(tid('pref-tz')).waitFor({ state: 'visible' });
    const tz = await applicant.locator(tid('pref-tz')).inputValue();
    const earliest = await applicant.locator(tid('pref-earliest')).inputValue();
    const latest = await applicant.locator(tid('pref-latest')).inputValue();
    if (tz !== ZONE) throw new Error(`the zone field shows ${tz}`);
    log(`preferences before: ${tz} ${earliest}–${latest}`);
    await applicant.locator(tid('pref-tz')).fill('Mars/Olympus_Mons');
    await applicant.locator(tid('pref-save')).click();
    await applicant.waitForSelector(`${tid('pref-status')}[data-state="error"]`);
    const err = await visibleText(applicant, 'pref-status');
    if (!err.includes('Mars/Olympus_Mons') || !/IANA/.test(err)) throw new Error(`the hub's message is not shown: "${err}"`);
    log(`refused: "${err}"`);
    const loadedBefore = await applicant.locator(tid('slot-list')).getAttribute('data-loaded');
    await applicant.locator(tid('pref-tz')).fill(ZONE);
    await applicant.locator(tid('pref-earliest')).fill('00:00');
    await applicant.locator(tid('pref-latest')).fill('23:59');
    await applicant.locator(tid('pref-save')).click();
    await applicant.waitForSelector(`${tid('pref-status')}[data-state="saved"]`);
    const summary = await applicant.locator(tid('prefs-summary')).textContent();
    if (!summary.includes('00:00') || !summary.includes('23:59')) throw new Error(`summary not updated: "${summary}"`);
    await applicant.waitForFunction(
      (before) => {
        const l = document.querySelector('[data-testid="slot-list"]');
        return l && l.dataset.loaded !== before && l.dataset.state !== 'loading';
      },
      loadedBefore,
    );
  });

  const slots = await step('[booking] slots are grouped by Lisbon date, each with Lisbon and Beijing times and offsets', async () => {
    const listState = await applicant.locator(tid('slot-list')).getAttribute('data-state');
    if (listState !== 'ready') {
      throw new Error(`no slots (${listState}): "${await applicant.locator(tid('slots-note')).textContent()}"`);
    }
    const found = await applicant.locator(tid('slot')).evaluateAll((els) =>
      els.map((e) => ({
        start: e.dataset.start,
        text: e.textContent.replace(/\s+/g, ' ').trim(),
        day: e.closest('[data-testid="slot-day"]').dataset.date,
      })),
    );
    const soonest = Date.now() + HOUR_MS - 5 * 60 * 1000;
    let lastStart = 0;
    for (const s of found) {
      const l = wall(s.start, ZONE);
      const b = wall(s.start, 'Asia/Shanghai');
      if (!s.text.includes(`${l.hhmm} (${l.offset})`)) throw new Error(`slot ${s.start} "${s.text}" lacks Lisbon ${l.hhmm} (${l.offset})`);
      if (!s.text.includes(`${b.hhmm} (UTC+08:00)`)) throw new Error(`slot ${s.start} "${s.text}" lacks Beijing ${b.hhmm} (UTC+08:00)`);
      if (s.day !== l.date) throw new Error(`slot ${s.start} is under ${s.day}, but it is ${l.date} in Lisbon`);
      const t = new Date(s.start).getTime();
      if (t < soonest) throw new Error(`slot ${s.start} starts less than an hour from now`);
      if (t <= lastStart) throw new Error('slots are not in time order');
      lastStart = t;
    }
    if (found.length < 3) throw new Error(`only ${found.length} slots with hours 00:00–23:59 over 14 days`);
    const days = await applicant.locator(tid('slot-day')).count();
    log(`${found.length} slots on ${days} Lisbon days; first "${found[0].text}"`);
    await shot(applicant, 'applicant-slots');
    return found;
  });

  // Prefer slots the console's live window covers (it depends on the weekday and the hour).
  const inWindow = slots.filter((s) => new Date(s.start).getTime() - Date.now() < CONSOLE_AHEAD_MS - 2 * HOUR_MS);
  const [s1, s2, s3] = inWindow.length >= 3 ? inWindow : slots;

  async function pickSlot(start) {
    const day = applicant.locator(`${tid('slot-day')}:has(${tid('slot')}[data-start="${start}"])`);
    if (!(await day.evaluate((d) => d.open))) await day.locator('summary').click();
    await applicant.locator(`${tid('slot')}[data-start="${start}"]:enabled`).click();
    await applicant.waitForSelector(`${tid('slot-choice')}[data-start="${start}"]`);
    const text = await visibleText(applicant, 'slot-choice-text');
    const l = wall(start, ZONE);
    const b = wall(start, 'Asia/Shanghai');
    if (!text.includes(l.hhmm) || !text.includes(b.hhmm)) throw new Error(`the choice "${text}" lacks ${l.hhmm} or ${b.hhmm}`);
  }

  async function expectCurrent(start) {
    await applicant.locator(tid('booking-current')).waitFor({ state: 'visible' });
    const shown = await applicant.locator(tid('booking-current')).getAttribute('data-start');
    if (!sameInstant(shown, start)) throw new Error(`the page shows the booking at ${shown}, expected ${start}`);
    const when = await visibleText(applicant, 'booking-when');
    const office = await visibleText(applicant, 'booking-when-office');
    const l = wall(start, ZONE);
    const b = wall(start, 'Asia/Shanghai');
    if (!when.includes(`${l.hhmm} (${l.offset})`) || !when.includes('Lisbon')) throw new Error(`"${when}" lacks ${l.hhmm} (${l.offset}) Lisbon`);
    if (!office.includes(`${b.hhmm} (UTC+08:00)`)) throw new Error(`"${office}" lacks Beijing ${b.hhmm} (UTC+08:00)`);
    log(`applicant sees: "${when}" / "${office}"`);
    return applicant.locator(tid('booking-current')).getAttribute('data-booking-id');
  }

  const firstId = await step('[booking] applicant books a slot; the confirmation shows both times; the console shows it live', async () => {
    const before = await bookingUpdates(officer);
    await pickSlot(s1.start);
    await applicant.locator(tid('slot-confirm')).click();
    await applicant.waitForSelector(`${tid('booking-status')}[data-state="booked"]`);
    const id = await expectCurrent(s1.start);
    if (await applicant.locator(tid('slots-box')).isVisible()) throw new Error('the slot list is still offered after booking');
    await expectConsoleBooking(officer, before, caseId, s1.start, ZONE);
    await shot(applicant, 'applicant-booked');
    await shot(officer, 'officer-bookings');
    return id;
  });

  await step('[booking] "Add to calendar" downloads globallink-appointment.ics with TZID=Europe/Lisbon', async () => {
    const [download] = await Promise.all([applicant.waitForEvent('download'), applicant.locator(tid('booking-ics')).click()]);
    if (download.suggestedFilename() !== 'globallink-appointment.ics') {
      throw new Error(`downloaded as ${download.suggestedFilename()}`);
    }
    const text = readFileSync(await download.path(), 'utf8');
    const l = wall(s1.start, ZONE);
    if (!text.includes('BEGIN:VCALENDAR') || !text.includes('TZID=Europe/Lisbon')) {
      throw new Error(`not a calendar for Europe/Lisbon:\n${text.slice(0, 400)}`);
    }
    if (!text.includes(`DTSTART;TZID=Europe/Lisbon:${l.ics}`)) throw new Error(`no DTSTART at ${l.ics} Lisbon time:\n${text}`);
    await applicant.waitForSelector(`${tid('booking-status')}[data-state="ics"]`);
    log(`.ics: ${text.length} bytes, DTSTART;TZID=Europe/Lisbon:${l.ics}`);
  });

  const other = await step('[booking] reschedule: a slot another applicant takes meanwhile is refused kindly (409) and the list refreshes', async () => {
    const loaded = await applicant.locator(tid('slot-list')).getAttribute('data-loaded');
    await applicant.locator(tid('booking-reschedule')).click();
    await applicant.waitForFunction(
      (before) => {
        const l = document.querySelector('[data-testid="slot-list"]');
        return l && l.dataset.loaded !== before && l.dataset.state === 'ready';
      },
      loaded,
    );
    await applicant.locator(`${tid('slot')}[data-start="${s2.start}"]`).waitFor({ state: 'attached' });
    // Another applicant (São Paulo, any hour) takes s2 through the API while this page shows it.
    const created = await officerCtx.request.post(`${BASE}/api/cases`, {
      data: { service: 'id-card-renewal', applicant_name: 'Ana Costa', applicant_tz: 'America/Sao_Paulo', applicant_lang: 'pt' },
    });
    if (created.status() !== 201) throw new Error(`second case: ${created.status()} ${await created.text()}`);
    const made = await created.json();
    tokens.push(made.invite_token);
    const auth = { Authorization: `Invite ${made.invite_token}` };
    const prefs = await fetch(`${BASE}/api/applicant/preferences`, {
      method: 'PUT',
      headers: { ...auth, 'Content-Type': 'application/json' },
      body: JSON.stringify({ tz: 'America/Sao_Paulo', earliest: '00:00', latest: '23:59', lang: 'pt' }),
    });
    if (!prefs.ok) throw new Error(`second applicant's preferences: ${prefs.status} ${await prefs.text()}`);
    const taken = await fetch(`${BASE}/api/applicant/bookings`, {
      method: 'POST',
      headers: { ...auth, 'Content-Type': 'application/json' },
      body: JSON.stringify({ start: s2.start }),
    });
    if (taken.status !== 201) throw new Error(`second applicant could not take ${s2.start}: ${taken.status} ${await taken.text()}`);
    const otherBooking = await taken.json();
    const again = await fetch(`${BASE}/api/applicant/bookings`, {
      method: 'POST',
      headers: { ...auth, 'Content-Type': 'application/json' },
      body: JSON.stringify({ start: s3.start }),
    });
    if (again.status !== 409) throw new Error(`a second live booking for one case answered ${again.status}`);

    const loadedBefore = await applicant.locator(tid('slot-list')).getAttribute('data-loaded');
    await pickSlot(s2.start);
    await applicant.locator(tid('slot-confirm')).click();
    await applicant.waitForSelector(`${tid('booking-status')}[data-code="slot_unavailable"]`);
    log(`applicant is told: "${await visibleText(applicant, 'booking-status')}"`);
    await applicant.waitForFunction(
      (before) => {
        const l = document.querySelector('[data-testid="slot-list"]');
        return l && l.dataset.loaded !== before && l.dataset.state === 'ready';
      },
      loadedBefore,
    );
    if ((await applicant.locator(`${tid('slot')}[data-start="${s2.start}"]`).count()) !== 0) {
      throw new Error(`the taken slot ${s2.start} is still offered after the refresh`);
    }
    await expectCurrent(s1.start);
    await shot(applicant, 'applicant-slot-taken');
    return {
      token: made.invite_token,
      inviteUrl: new URL(made.invite_url, BASE).href,
      bookingId: otherBooking.id,
      caseId: made.case.id,
      start: s2.start,
    };
  });

  await step('[booking] applicant reschedules to another slot; the console follows live', async () => {
    const before = await bookingUpdates(officer);
    await pickSlot(s3.start);
    await applicant.locator(tid('slot-confirm')).click();
    await applicant.waitForSelector(`${tid('booking-status')}[data-state="moved"]`);
    const id = await expectCurrent(s3.start);
    if (id === firstId) throw new Error('rescheduling kept the old booking id');
    await expectConsoleBooking(officer, before, caseId, s3.start, ZONE);
    if (new Date(other.start).getTime() - Date.now() < CONSOLE_AHEAD_MS) {
      const rows = await consoleBookings(officer);
      const theirs = rows.find((r) => r.caseId === other.caseId);
      if (!theirs || !theirs.local.includes('Sao Paulo')) throw new Error(`the São Paulo booking is not listed: ${JSON.stringify(rows)}`);
    }
    if (new Date(other.start).getTime() - Date.now() < 24 * HOUR_MS) {
      await until('a São Paulo clock in the header', async () => {
        const zones = (await readClocks(officer)).map((c) => c.zone);
        return { ok: zones.includes('America/Sao_Paulo'), zones };
      });
    }
    const clocks = await readClocks(officer);
    checkClocks(clocks, new Date().toISOString());
    if (!clocks.some((c) => c.zone === ZONE)) throw new Error('the Lisbon clock is gone');
    log(`clocks now: ${clocks.map((c) => `${c.city}(${c.role})`).join(', ')}`);
    await shot(officer, 'officer-bookings-rescheduled');
  });

  await step('[booking] cancel asks first, then the booking is gone on both sides', async () => {
    await applicant.locator(tid('booking-cancel')).click();
    await applicant.waitForSelector(`${tid('cancel-dialog')}[open]`);
    const question = await visibleText(applicant, 'cancel-question');
    if (!question.includes(wall(s3.start, ZONE).hhmm)) throw new Error(`the question does not name the time: "${question}"`);
    await applicant.locator(tid('cancel-keep')).click();
    await applicant.waitForSelector(`${tid('cancel-dialog')}:not([open])`, { state: 'attached' });
    await expectCurrent(s3.start);
    const before = await bookingUpdates(officer);
    await applicant.locator(tid('booking-cancel')).click();
    await applicant.locator(tid('cancel-confirm')).click();
    await applicant.waitForSelector(`${tid('booking-status')}[data-state="cancelled"]`);
    await applicant.locator(tid('booking-current')).waitFor({ state: 'hidden' });
    await applicant.locator(tid('slots-box')).waitFor({ state: 'visible' });
    await expectConsoleBooking(officer, before, caseId, null, ZONE);
    // Leave the hub as found: the other applicant cancels too.
    const gone = await fetch(`${BASE}/api/applicant/bookings/${other.bookingId}`, {
      method: 'DELETE',
      headers: { Authorization: `Invite ${other.token}` },
    });
    if (gone.status !== 204) throw new Error(`cancelling the other booking answered ${gone.status}`);
  });

  await step('[booking] a device in another zone is offered the switch; the page follows a language change', async () => {
    // The São Paulo applicant opens their link on a phone set to Rome time, in Italian.
    const romeCtx = await browser.newContext({ viewport: { width: 390, height: 844 }, locale: 'it-IT', timezoneId: 'Europe/Rome' });
    const rome = watch(await romeCtx.newPage(), 'rome-applicant');
    await rome.goto(other.inviteUrl);
    await rome.locator(tid('tz-offer')).waitFor({ state: 'visible' });
    const offer = await visibleText(rome, 'tz-offer-text');
    if (!offer.includes('Europe/Rome') || !offer.includes('America/Sao_Paulo')) throw new Error(`the offer does not name both zones: "${offer}"`);
    log(`offer: "${offer}"`);
    await shot(rome, 'applicant-zone-offer');
    const loaded = await rome.locator(tid('slot-list')).getAttribute('data-loaded');
    await rome.locator(tid('tz-offer-use')).click();
    await rome.waitForSelector(`${tid('booking-status')}[data-state="zone"]`);
    await rome.locator(tid('tz-offer')).waitFor({ state: 'hidden' });
    await rome.waitForFunction(
      (before) => {
        const l = document.querySelector('[data-testid="slot-list"]');
        return l && l.dataset.loaded !== before && l.dataset.state === 'ready';
      },
      loaded,
    );
    const first = await rome.locator(tid('slot')).first();
    const start = await first.getAttribute('data-start');
    const r = wall(start, 'Europe/Rome');
    const text = (await first.textContent()).replace(/\s+/g, ' ');
    if (!text.includes(`${r.hhmm} (${r.offset})`)) throw new Error(`after the switch the slot "${text}" is not in Rome time ${r.hhmm} (${r.offset})`);
    await rome.locator(tid('lang-select')).selectOption('zh-Hans');
    const zh = (await rome.locator(tid('slot')).first().textContent()).replace(/\s+/g, ' ');
    if (!zh.includes('北京')) throw new Error(`the slot list did not follow the language change: "${zh}"`);
    log(`Rome, then in Chinese: "${zh}"`);
    await shot(rome, 'applicant-zh');
    await romeCtx.close();
  });

  await step('[booking] the applicant page never put an invite token in a URL', async () => {
    for (const [name, { urls }] of watched) {
      for (const u of urls.map((x) => x.split('#')[0])) {
        for (const t of tokens) {
          if (t && u.includes(t)) throw new Error(`${name} requested a URL carrying an invite token: ${u.replace(t, '…')}`);
        }
      }
    }
  });
  await applicantCtx.close();
}

/**
 * The waiting room's other answer: an applicant the officer turns away is told so, never
 * reaches the call, and the session is sealed with the outcome `denied`.
 */
async function denyScenario(officer) {
  const ctx = await browser.newContext({
    permissions: ['camera', 'microphone'],
    viewport: { width: 390, height: 844 },
    locale: 'es-ES',
    timezoneId: 'Europe/Madrid',
  });
  const applicant = watch(await ctx.newPage(), 'denied-applicant');
  const NAME = 'Lucía Gómez';

  const inviteUrl = await step('[deny] officer creates an id-card-renewal case for a Madrid applicant', async () => {
    const previous = await officer.locator(tid('invite-url')).inputValue();
    await officer.locator(tid('case-service')).selectOption('id-card-renewal');
    await officer.locator(tid('case-name')).fill(NAME);
    await officer.locator(tid('case-tz')).fill('Europe/Madrid');
    await officer.locator(tid('case-lang')).selectOption('es');
    await officer.locator(tid('case-create')).click();
    await officer.waitForFunction(
      (prev) => {
        const v = document.querySelector('[data-testid="invite-url"]')?.value;
        return v && v !== prev;
      },
      previous,
    );
    return officer.locator(tid('invite-url')).inputValue();
  });

  await step('[deny] the applicant queues; the officer takes them into the waiting room', async () => {
    await applicant.goto(inviteUrl);
    await applicant.locator(tid('device-check')).click();
    await applicant.waitForSelector(`${tid('device-result')}[data-state="ok"]`, { state: 'attached' });
    await applicant.locator(tid('join-queue')).click();
    await applicant.waitForSelector(`${tid('queue-position')}[data-position]`);
    await officer.waitForSelector(`${tid('take-next')}:enabled`);
    await officer.locator(tid('take-next')).click();
    await applicant.waitForSelector(`${tid('lobby-status')}[data-state="waiting"]:visible`);
    await officer.waitForSelector(`${tid('lobby-panel')}[data-state="knocking"]`);
    const knock = await visibleText(officer, 'knock');
    if (!knock.includes(NAME) || !knock.includes('Madrid')) throw new Error(`the knock does not show ${NAME} in Madrid: "${knock}"`);
  });

  await step('[deny] the officer denies: the applicant is told, and both see the outcome denied', async () => {
    await officer.getByRole('button', { name: /Deny/ }).click();
    await applicant.waitForSelector(`${tid('lobby-status')}[data-state="denied"]`, { state: 'attached' });
    await applicant.locator(tid('receipt')).waitFor({ state: 'visible' });
    const outcome = await applicant.locator(tid('receipt-outcome')).getAttribute('data-outcome');
    if (outcome !== 'denied') throw new Error(`the receipt says ${outcome}, expected denied`);
    if (await applicant.locator(tid('step-call')).isVisible()) throw new Error('a denied applicant reached the call');
    log(`applicant sees: "${await visibleText(applicant, 'lobby-status')}" / "${await visibleText(applicant, 'receipt-outcome')}"`);
    await officer.locator(tid('session-result')).waitFor({ state: 'visible' });
    const officerOutcome = await officer.locator(tid('session-outcome')).getAttribute('data-outcome');
    if (officerOutcome !== 'denied') throw new Error(`the console says ${officerOutcome}, expected denied`);
    await shot(applicant, 'applicant-denied');
  });
  await ctx.close();
}

async function main() {
  log(`hub ${BASE}, chromium ${CHROMIUM}`);
  if (SHOTS) mkdirSync(SHOTS, { recursive: true });
  const work = mkdtempSync(join(tmpdir(), 'globallink-e2e-files-'));
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

  const inviteUrl = await step('officer creates an inheritance case', async () => {
    await officer.waitForSelector(`${tid('case-service')} option[value="inheritance"]`, { state: 'attached' });
    await officer.locator(tid('case-service')).selectOption('inheritance');
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
    if (await applicant.locator(tid('queue-wait')).isVisible()) {
      const minutes = await applicant.locator(tid('queue-wait')).getAttribute('data-minutes');
      log(`estimated wait ${minutes} min: "${await visibleText(applicant, 'queue-wait')}"`);
    }
    await shot(applicant, 'applicant-queued');
    await shot(officer, 'officer-queue');
  });

  await step('officer sees the applicant in the queue and takes next', async () => {
    await officer.waitForSelector(tid('queue-row'));
    const row = (await officer.locator(tid('queue-row')).first().textContent()).trim();
    if (!row.includes('Maria Silva')) throw new Error(`queue row does not show the applicant: ${row}`);
    const local = (await officer.locator(tid('queue-local')).first().textContent()).trim();
    const lisbon = new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/Lisbon', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    const now = new Date();
    const near = [now, new Date(now.getTime() - 2000)].map((d) => lisbon.format(d));
    if (!local.includes('Lisbon') || !near.some((t) => local.includes(t))) {
      throw new Error(`queue row's local time "${local}" is not Lisbon's ${near[0]}`);
    }
    log(`queue row local time: ${local}`);
    await officer.waitForSelector(`${tid('take-next')}:enabled`);
    await officer.locator(tid('take-next')).click();
    await officer.waitForSelector(`${tid('call-panel')}:visible`);
  });

  await step('the applicant waits in the lobby; the officer sees the knock and admits them', async () => {
    // Everyone but the officer lands in the waiting room: no call before the officer says so.
    await applicant.waitForSelector(`${tid('lobby-status')}[data-state="waiting"]:visible`);
    if (await applicant.locator(tid('step-call')).isVisible()) throw new Error('the call opened before admission');
    log(`applicant sees: "${await visibleText(applicant, 'lobby-status')}"`);
    await officer.waitForSelector(`${tid('lobby-panel')}[data-state="knocking"]`);
    const knock = await visibleText(officer, 'knock');
    const lisbon = new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/Lisbon', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    const now = new Date();
    const near = [now, new Date(now.getTime() - 60000)].map((d) => lisbon.format(d));
    if (!knock.includes('Maria Silva') || !knock.toLowerCase().includes('applicant') || !near.some((t) => knock.includes(t))) {
      throw new Error(`the knock does not show name, role and Lisbon time ${near[0]}: "${knock}"`);
    }
    const live = await officer.locator(tid('knock')).getAttribute('aria-live');
    if (!live) throw new Error('the knock is not announced (no aria-live)');
    // The tools that involve the applicant wait for admission (the hub would say not_admitted).
    if (!(await officer.locator(tid('consents-panel')).evaluate((el) => el.inert))) {
      throw new Error('the consent tools are usable before the applicant is admitted');
    }
    log(`officer sees: "${knock}" / "${await visibleText(officer, 'knock-local')}"`);
    await shot(officer, 'officer-knock');
    await shot(applicant, 'applicant-lobby');
    const admit = officer.getByRole('button', { name: /Admit/ });
    await admit.click();
    await officer.waitForSelector(`${tid('lobby-panel')}[data-state="admitted"]`);
    await officer.waitForSelector(`${tid('evidence-entry')}[data-event="participant_admitted"]`, { state: 'attached' });
    await applicant.waitForSelector(`${tid('step-call')}:visible`);
    if (await officer.locator(tid('consents-panel')).evaluate((el) => el.inert)) {
      throw new Error('the consent tools stay blocked after admission');
    }
    const admitted = await applicant.locator(tid('lobby-status')).getAttribute('data-state');
    if (admitted !== 'admitted') throw new Error(`the applicant's lobby state is ${admitted}, expected admitted`);
  });

  await step("both see the other side's video playing", async () => {
    await Promise.all([waitForRemoteVideo(officer, 'officer'), waitForRemoteVideo(applicant, 'applicant')]);
    await shot(applicant, 'applicant-call');
  });

  await step('officer requests the four consents; the applicant accepts each (notice first)', async () => {
    for (const c of CONSENTS) await officer.waitForSelector(`${tid('consent-request')}[data-consent="${c}"]:enabled`);
    for (const c of CONSENTS) await officer.locator(`${tid('consent-request')}[data-consent="${c}"]`).click();
    for (const [i, c] of CONSENTS.entries()) {
      await applicant.waitForSelector(`${tid('consent-dialog')}[open][data-consent="${c}"]`);
      const text = await visibleText(applicant, 'consent-text');
      if (!text) throw new Error(`consent dialog for ${c} shows no text`);
      const basis = await visibleText(applicant, 'consent-legal-basis');
      const notice = await applicant.locator(tid('consent-notice-box')).isVisible();
      if (i === 0) {
        if (!notice) throw new Error('the first consent request does not show the "kept whatever you answer" notice');
        const n = await visibleText(applicant, 'consent-notice');
        log(`notice (${n.length} chars): ${n.slice(0, 70)}…`);
        await shot(applicant, 'applicant-consent-notice');
      } else if (notice) {
        throw new Error(`the notice is shown again with consent ${c}`);
      }
      if (c === 'cross-border-transfer') {
        const recipient = await visibleText(applicant, 'consent-recipient');
        if (!recipient) throw new Error('the cross-border consent names no recipient');
      }
      log(`consent ${c}: ${text.length} chars, legal basis "${basis}"`);
      await applicant.locator(tid('consent-accept')).click();
    }
    await applicant.waitForSelector(`${tid('consent-dialog')}:not([open])`, { state: 'attached' });
  });

  await step('officer sees every consent granted and recording on', async () => {
    for (const c of CONSENTS) {
      await officer.waitForSelector(`${tid('consent-row')}[data-consent="${c}"][data-state="granted"]`);
    }
    await officer.locator(tid('recording-indicator')).waitFor({ state: 'visible' });
    await applicant.locator(tid('recording-indicator')).waitFor({ state: 'visible' });
    const states = await officer.locator(tid('consent-state')).allTextContents();
    log(`officer consent states: ${states.join(' | ')}`);
    await shot(officer, 'officer-consents');
  });

  await step('[stats] the console shows call quality per participant; the applicant sees none', async () => {
    const row = `${tid('stats-row')}[data-role="applicant"][data-kind="video"]`;
    await until('a video row for the applicant with a rate and VP8', async () => {
      const el = officer.locator(row);
      if ((await el.count()) === 0) return { ok: false };
      const codec = (await el.locator(tid('stats-codec')).textContent()) || '';
      const up = (await el.locator(tid('stats-up')).textContent()) || '';
      return { ok: /vp8/i.test(codec) && /[1-9]/.test(up), codec, up };
    });
    const headers = await officer.locator(`${tid('stats-table')} thead th[scope="col"]`).count();
    if (headers < 8) throw new Error(`the stats table has ${headers} column headers`);
    const path = await officer.locator(row).getAttribute('data-path');
    log(`applicant video: "${(await officer.locator(row).innerText()).replace(/\s+/g, ' ')}" (${path})`);
    if ((await applicant.locator(tid('stats-panel')).count()) !== 0) {
      throw new Error('the applicant page shows call statistics');
    }
  });

  // ---- the applicant's link drops mid-call (offline, socket closed) and comes back by itself
  const sessionId = await officer.locator(tid('call-panel')).getAttribute('data-session-id');
  const officerHistory = await peerHistory(officer);
  await step('[reconnect] the applicant goes offline and their socket drops: the officer is told "reconnecting"', async () => {
    await applicantCtx.setOffline(true);
    await dropSignal(applicant, 'applicant');
    await expectPeerStates(officer, 'the officer', officerHistory, ['reconnecting']);
    log(`officer sees: "${await visibleText(officer, 'peer-notice')}"`);
    // Offline, the attempts fail and the page counts them.
    const r = await until('the applicant page to count a second reconnection attempt', async () => {
      const el = applicant.locator(tid('link-status'));
      const attempt = Number(await el.getAttribute('data-attempt'));
      const st = await el.getAttribute('data-state');
      return { ok: st === 'reconnecting' && attempt >= 2, state: st, attempt };
    });
    const text = await visibleText(applicant, 'link-status');
    if (!text.includes(String(r.attempt))) throw new Error(`the reconnecting notice does not show the attempt ${r.attempt}: "${text}"`);
    const role = await applicant.locator(tid('link-status')).getAttribute('role');
    if (role !== 'status') throw new Error(`the reconnecting notice has role ${role}, not status`);
    log(`applicant sees: "${text}"`);
    if (!(await applicant.locator(tid('step-call')).isVisible())) throw new Error('the call step was left when the link dropped');
    await shot(applicant, 'applicant-reconnecting');
    await shot(officer, 'officer-applicant-reconnecting');
  });

  await step('[reconnect] back online, the applicant reconnects at once; the session resumes on both sides', async () => {
    const online = Date.now();
    await applicantCtx.setOffline(false);
    await applicant.waitForSelector(`${tid('link-status')}[data-state="reconnected"][data-reconnects="1"]`, { state: 'attached' });
    log(`applicant reconnected ${Date.now() - online} ms after the network came back: "${(await applicant.locator(tid('link-status')).textContent()).trim()}"`);
    await applicant.waitForSelector(`${tid('step-call')}[data-resumed="1"]`, { state: 'attached' });
    const resumed = await applicant.locator(tid('step-call')).getAttribute('data-session-id');
    if (resumed !== sessionId) throw new Error(`the applicant resumed session ${resumed}, not ${sessionId}`);
    await expectPeerStates(officer, 'the officer', officerHistory, ['reconnecting', 'rejoined']);
    log(`officer sees: "${(await officer.locator(tid('peer-notice')).textContent()).trim()}"`);
    await applicant.locator(tid('recording-indicator')).waitFor({ state: 'visible' });
    const granted = await officer.locator(`${tid('consent-row')}[data-state="granted"]`).count();
    if (granted !== CONSENTS.length) throw new Error(`the console shows ${granted} granted consents after the resume`);
  });

  await step('[reconnect] both see fresh video again after the applicant\'s resume', async () => {
    await Promise.all([waitForFreshVideo(officer, 'officer'), waitForFreshVideo(applicant, 'applicant')]);
    await shot(applicant, 'applicant-resumed');
  });

  await step('[reconnect] the console\'s evidence log lists participant_disconnected and participant_reconnected', async () => {
    const events = await until('the reconnection events in the evidence log', async () => {
      const ev = await evidenceEvents(officer);
      return { ok: ev.includes('participant_disconnected') && ev.includes('participant_reconnected'), ev };
    });
    const i = events.ev.indexOf('participant_disconnected');
    if (events.ev.indexOf('participant_reconnected', i) < 0) throw new Error(`reconnected is not after disconnected: ${events.ev.join(', ')}`);
    log(`evidence log: ${events.ev.join(', ')}`);
  });

  await step('an expired passport (ICAO 9303 specimen MRZ) is refused with the hub\'s reason', async () => {
    await officer.locator(tid('id-doc-type')).selectOption('passport');
    await officer.locator(tid('id-mrz')).waitFor({ state: 'visible' });
    if (await officer.locator(tid('id-number')).isVisible()) throw new Error('a passport form shows the number field');
    await officer.locator(tid('id-mrz')).fill(PASSPORT_MRZ_EXPIRED);
    await officer.locator(tid('id-submit')).click();
    const s = await stateOf(officer, 'id-status', ['error', 'recorded']);
    const text = await visibleText(officer, 'id-status');
    if (s !== 'error') throw new Error(`an expired passport was recorded: ${text}`);
    const code = await officer.locator(tid('id-status')).getAttribute('data-code');
    if (!/expir/i.test(`${code} ${text}`)) throw new Error(`expected an expiry refusal (the MRZ digits are right): [${code}] ${text}`);
    log(`hub refused it: [${code}] ${text}`);
  });

  await step('a wrong check character is refused and shown next to the form', async () => {
    await officer.locator(tid('id-doc-type')).selectOption('id-card');
    await officer.locator(tid('id-card-mode')).selectOption('resident');
    await officer.locator(tid('id-number')).fill(ID_NUMBER_BAD_CHECK);
    await officer.locator(tid('id-valid-until')).fill(ID_VALID_UNTIL);
    await officer.locator(tid('id-outcome')).selectOption('match');
    await officer.locator(tid('id-submit')).click();
    const s = await stateOf(officer, 'id-status', ['error', 'recorded']);
    const text = await visibleText(officer, 'id-status');
    if (s !== 'error') throw new Error(`an ID number with a wrong check character was recorded: ${text}`);
    const code = await officer.locator(tid('id-status')).getAttribute('data-code');
    log(`hub refused it: [${code}] ${text}`);
  });

  await step(`officer records the identity check (id-card ${ID_NUMBER}, valid until ${ID_VALID_UNTIL}, match)`, async () => {
    await officer.locator(tid('id-number')).fill(ID_NUMBER);
    await officer.locator(tid('id-valid-until')).fill(ID_VALID_UNTIL);
    const att = await officer.locator(tid('id-attestation')).inputValue();
    if (!att.trim()) throw new Error('the attestation has no default text');
    await officer.locator(tid('id-submit')).click();
    const s = await stateOf(officer, 'id-status', ['error', 'recorded']);
    const text = await visibleText(officer, 'id-status');
    if (s !== 'recorded') throw new Error(`identity check not recorded: ${text}`);
    log(text);
  });

  await step('liveness: prompt → applicant Done → officer Passed', async () => {
    await officer.locator(tid('liveness-prompt')).click();
    await stateOf(officer, 'liveness-status', ['prompted', 'responded']);
    await applicant.locator(tid('liveness-panel')).waitFor({ state: 'visible' });
    const prompt = await visibleText(applicant, 'liveness-text');
    if (!prompt) throw new Error('the applicant sees no liveness prompt text');
    log(`applicant is asked: "${prompt}"`);
    await shot(applicant, 'applicant-liveness');
    await applicant.locator(tid('liveness-done')).click();
    await officer.waitForSelector(`${tid('liveness-status')}[data-state="responded"]`, { state: 'attached' });
    await officer.locator(tid('liveness-passed')).click();
    const s = await stateOf(officer, 'liveness-status', ['passed', 'error']);
    if (s !== 'passed') throw new Error(`liveness not attested: ${await visibleText(officer, 'liveness-status')}`);
  });

  await step("officer captures a still of the document from the applicant's video", async () => {
    await officer.locator(tid('capture-still')).click();
    const s = await stateOf(officer, 'still-status', ['uploaded', 'error']);
    const text = await visibleText(officer, 'still-status');
    if (s !== 'uploaded') throw new Error(`still not added: ${text}`);
    const size = await officer.locator(tid('still-preview')).evaluate((c) => `${c.width}x${c.height}`);
    const seq = await officer.locator(tid('still-status')).getAttribute('data-seq');
    const sha = await officer.locator(tid('still-status')).getAttribute('data-sha256');
    if (!/^[0-9a-f]{64}$/.test(sha || '')) throw new Error(`still upload shows no SHA-256: ${text}`);
    log(`still ${size}, evidence #${seq}, sha256 ${sha.slice(0, 16)}…`);
  });

  await step('a file whose content does not match its type is refused (415)', async () => {
    const fake = join(work, 'not-really.pdf');
    // PNG signature in a file named .pdf: the browser declares application/pdf.
    writeFileSync(fake, Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0]));
    const kind = 'death-certificate';
    await officer.locator(`${tid('doc-file')}[data-document="${kind}"]`).setInputFiles(fake);
    await officer.locator(`${tid('doc-upload')}[data-document="${kind}"]`).click();
    const s = await stateOf(officer, 'doc-status', ['uploaded', 'error'], `[data-document="${kind}"]`);
    const out = officer.locator(`${tid('doc-status')}[data-document="${kind}"]`);
    const text = (await out.textContent()).trim();
    if (s !== 'error') throw new Error(`a PNG declared as PDF was accepted: ${text}`);
    const status = await out.getAttribute('data-status');
    if (status !== '415') throw new Error(`expected HTTP 415, got ${status}: ${text}`);
    log(`refused: ${text}`);
  });

  await step('officer uploads the death certificate and the proof of kinship (PDF)', async () => {
    for (const kind of ['death-certificate', 'kinship-proof']) {
      const file = join(work, `${kind}.pdf`);
      writeFileSync(file, makePdf(`GlobalLink e2e ${kind}`));
      await officer.locator(`${tid('doc-file')}[data-document="${kind}"]`).setInputFiles(file);
      await officer.locator(`${tid('doc-upload')}[data-document="${kind}"]:enabled`).click();
      const s = await stateOf(officer, 'doc-status', ['uploaded', 'error'], `[data-document="${kind}"]`);
      const out = officer.locator(`${tid('doc-status')}[data-document="${kind}"]`);
      const text = (await out.textContent()).trim();
      if (s !== 'uploaded') throw new Error(`${kind} not added: ${text}`);
      log(`${kind}: evidence #${await out.getAttribute('data-seq')}`);
    }
  });

  await step('officer requests the inheritance declaration; the applicant confirms it', async () => {
    const sel = `${tid('declaration-request')}[data-declaration="inheritance"]`;
    await officer.locator(sel).click();
    await applicant.locator(tid('declaration-panel')).waitFor({ state: 'visible' });
    const text = await visibleText(applicant, 'declaration-text');
    if (!text) throw new Error('the applicant sees no declaration text');
    log(`declaration (${text.length} chars): ${text.slice(0, 70)}…`);
    await shot(applicant, 'applicant-declaration');
    await applicant.locator(tid('declaration-confirm')).click();
    await applicant.waitForSelector(`${tid('declaration-panel')}[data-state="confirmed"]`, { state: 'attached' });
    const s = await stateOf(officer, 'declaration-status', ['confirmed', 'error'], '[data-declaration="inheritance"]');
    if (s !== 'confirmed') throw new Error('the declaration was not confirmed on the officer side');
  });

  await step('the checklist panel shows every item satisfied', async () => {
    await officer.waitForSelector(`${tid('checklist')}[data-complete="true"]`, { state: 'attached' });
    const items = await officer
      .locator(tid('checklist-item'))
      .evaluateAll((els) => els.map((e) => ({ item: e.dataset.item, ok: e.dataset.satisfied === 'true', seq: e.dataset.seq })));
    const missing = items.filter((i) => !i.ok);
    if (items.length !== 10 || missing.length) {
      throw new Error(`checklist not complete: ${JSON.stringify(items)}`);
    }
    log(`checklist: ${items.map((i) => `${i.item}#${i.seq}`).join(', ')}`);
    await shot(officer, 'officer-checklist-complete');
  });

  // ---- the officer's desk socket drops: the console reconnects and keeps the session on screen
  await step('[reconnect] the officer\'s desk socket drops: the console reconnects by itself, the session and its panels stay', async () => {
    const applicantHistory = await peerHistory(applicant);
    const logBefore = await evidenceEvents(officer);
    // The officer's leg was already renegotiated once (when the applicant came back).
    const resumedBefore = Number((await officer.locator(tid('call-panel')).getAttribute('data-resumed')) || 0);
    await dropSignal(officer, 'officer');
    await expectPeerStates(applicant, 'the applicant', applicantHistory, ['reconnecting']);
    log(`applicant sees: "${await visibleText(applicant, 'peer-notice')}"`);
    await officer.waitForSelector(`${tid('desk-status')}[data-state="connected"][data-reconnects="1"]`, { state: 'attached' });
    await officer.waitForFunction(
      ([sel, before]) => Number(document.querySelector(sel)?.dataset.resumed || 0) > before,
      [`${tid('call-panel')}[data-session-id="${sessionId}"]`, resumedBefore],
    );
    await expectPeerStates(applicant, 'the applicant', applicantHistory, ['reconnecting', 'rejoined']);
    log(`console: "${await visibleText(officer, 'desk-status')}"; applicant: "${(await applicant.locator(tid('peer-notice')).textContent()).trim()}"`);
    const granted = await officer.locator(`${tid('consent-row')}[data-state="granted"]`).count();
    const complete = await officer.locator(tid('checklist')).getAttribute('data-complete');
    const logAfter = await evidenceEvents(officer);
    if (granted !== CONSENTS.length || complete !== 'true') {
      throw new Error(`the console lost the session's state: ${granted} consents granted, checklist complete=${complete}`);
    }
    if (logAfter.length < logBefore.length || logBefore.some((e, i) => logAfter[i] !== e)) {
      throw new Error(`the evidence log was not kept: before ${logBefore.join(',')}; after ${logAfter.join(',')}`);
    }
    if ((await officer.locator(tid('declaration-status')).first().getAttribute('data-state')) !== 'confirmed') {
      throw new Error('the declaration row lost its confirmed state');
    }
    await Promise.all([waitForFreshVideo(officer, 'officer'), waitForFreshVideo(applicant, 'applicant')]);
  });

  await step('applicant opens "My consents": four granted, downloadable, withdraw asks first', async () => {
    await applicant.locator(tid('my-consents')).click();
    await until('four granted consents in "My consents"', async () => {
      const answers = await applicant
        .locator(tid('my-consent'))
        .evaluateAll((els) => els.map((e) => `${e.dataset.consent}:${e.dataset.answer}`));
      return { ok: answers.length === 4 && answers.every((a) => a.endsWith(':granted')), answers };
    });
    const [download] = await Promise.all([
      applicant.waitForEvent('download'),
      applicant.locator(tid('my-consents-download')).click(),
    ]);
    const text = readFileSync(await download.path(), 'utf8');
    const hashes = text.match(/\b[0-9a-f]{64}\b/g) || [];
    if (hashes.length < 5) throw new Error(`consents file lacks the notice and consent fingerprints:\n${text.slice(0, 600)}`);
    log(`consents file ${download.suggestedFilename()}: ${text.length} bytes, ${hashes.length} fingerprints`);
    await applicant.locator(`${tid('consent-withdraw')}[data-consent="recording"]`).click();
    await applicant.waitForSelector(`${tid('withdraw-dialog')}[open]`);
    const effect = await visibleText(applicant, 'withdraw-effect');
    if (!effect) throw new Error('the withdraw confirmation explains nothing');
    await shot(applicant, 'applicant-withdraw-confirm');
    await applicant.locator(tid('withdraw-cancel')).click();
    await applicant.waitForSelector(`${tid('withdraw-dialog')}:not([open])`, { state: 'attached' });
    const still = await applicant.locator(`${tid('my-consent')}[data-consent="recording"]`).getAttribute('data-answer');
    if (still !== 'granted') throw new Error(`cancelling the withdrawal changed the consent to ${still}`);
    await shot(applicant, 'applicant-my-consents');
  });

  // ---- the officer reloads the console mid-call: the cookie signs them in, the desk reopens
  await step('[reconnect] the officer reloads the console mid-call: the desk reopens and the session resumes', async () => {
    const applicantHistory = await peerHistory(applicant);
    await officer.reload();
    await officer.waitForSelector('body[data-auth="signed-in"]', { state: 'attached' });
    await officer.waitForSelector(`${tid('call-panel')}[data-resumed="1"][data-session-id="${sessionId}"]`);
    await expectPeerStates(applicant, 'the applicant', applicantHistory, ['reconnecting', 'rejoined']);
    log(`applicant peer states: ${(await peerHistory(applicant)).join(' → ')}`);
    await officer.locator(tid('recording-indicator')).waitFor({ state: 'visible' });
    // The reloaded page knows the session only from the hub: the checklist it sends on the
    // return shows what is done.
    await officer.waitForSelector(`${tid('checklist')}[data-complete="true"]`, { state: 'attached' });
    await until('the reloaded console to show the consents granted (from the checklist)', async () => {
      const n = await officer.locator(`${tid('consent-row')}[data-state="granted"]`).count();
      return { ok: n === CONSENTS.length, granted: n };
    });
    log(`evidence log after the reload: ${(await evidenceEvents(officer)).join(', ') || '(empty)'}`);
    await Promise.all([waitForFreshVideo(officer, 'officer'), waitForFreshVideo(applicant, 'applicant')]);
    await shot(officer, 'officer-reloaded');
  });

  await step('[guest] the officer invites an interpreter; they open the link in Rome, knock, are admitted; all three see each other', async () => {
    await officer.locator(tid('guest-role')).selectOption('interpreter');
    await officer.locator(tid('guest-name')).fill('Ana Sousa');
    await officer.locator(tid('guest-invite')).click();
    const row = officer.locator(`${tid('guest-link')}[data-participant="interpreter-1"]`);
    await row.waitFor({ state: 'visible' });
    const link = await row.locator('input').inputValue();
    if (!link.includes('/join#g=')) throw new Error(`the guest link is not a join link: ${link}`);
    const guestCtx = await browser.newContext({ viewport: { width: 390, height: 844 }, locale: 'it-IT', timezoneId: 'Europe/Rome' });
    const guest = watch(await guestCtx.newPage(), 'guest');
    await guest.goto(link);
    await guest.waitForSelector(`${tid('lobby-status')}:visible`);
    const welcome = await visibleText(guest, 'lobby-status');
    if (!welcome.toLowerCase().includes('interprete')) throw new Error(`the guest is not greeted in Italian with their role: "${welcome}"`);
    await officer.waitForSelector(`${tid('lobby-panel')}[data-state="knocking"]`);
    const knock = await visibleText(officer, 'knock');
    if (!knock.includes('Ana Sousa') || !knock.toLowerCase().includes('interpreter')) {
      throw new Error(`the knock does not name the interpreter: "${knock}"`);
    }
    await officer.getByRole('button', { name: /Admit/ }).click();
    await guest.waitForSelector(`${tid('step-call')}:visible`);
    await waitForRemoteVideo(guest, 'guest');
    const tilePlays = (page, who, participant) =>
      until(`${who} to see ${participant}'s tile playing`, async () => {
        const v = await page.evaluate((id) => {
          const fig = [...document.querySelectorAll('[data-testid="participant-tile"]')].find((f) => f.dataset.participant === id);
          const video = fig && fig.querySelector('video');
          return video ? { w: video.videoWidth, t: video.currentTime, caption: fig.textContent } : null;
        }, participant);
        return { ok: !!v && v.w > 0 && v.t > 0.5, ...v };
      }, VIDEO_TIMEOUT_MS);
    const seen = await tilePlays(officer, 'officer', 'interpreter-1');
    if (!seen.caption.includes('Ana Sousa')) throw new Error(`the officer's tile is not captioned with the name: "${seen.caption}"`);
    await tilePlays(applicant, 'applicant', 'interpreter-1');
    await tilePlays(guest, 'guest', 'applicant');
    await officer.waitForSelector(`${tid('evidence-entry')}[data-event="guest_invited"]`, { state: 'attached' });
    await shot(guest, 'guest-call');
    await shot(officer, 'officer-three-party');
  });

  const { artefactId, manifest } = await step('officer closes; outcome completed on both sides', async () => {
    await officer.locator(tid('close-session')).click();
    await officer.locator(tid('session-result')).waitFor({ state: 'visible' });
    const outcome = await officer.locator(tid('session-outcome')).getAttribute('data-outcome');
    const reason = (await officer.locator(tid('session-reason')).textContent()).trim();
    if (outcome !== 'completed') throw new Error(`session outcome is ${outcome} (${reason})`);
    const officerArtefact = await visibleText(officer, 'session-artefact');
    await applicant.locator(tid('receipt')).waitFor({ state: 'visible' });
    const artefact = await visibleText(applicant, 'receipt-artefact');
    const hash = await visibleText(applicant, 'receipt-hash');
    const applicantOutcome = await applicant.locator(tid('receipt-outcome')).getAttribute('data-outcome');
    if (applicantOutcome !== 'completed') throw new Error(`the receipt says ${applicantOutcome}`);
    if (!/^[0-9a-f]{64}$/.test(hash)) throw new Error(`receipt manifest hash is not 64 hex digits: "${hash}"`);
    if (!artefact) throw new Error('receipt has no artefact id');
    if (officerArtefact !== artefact) {
      throw new Error(`officer and applicant disagree on the artefact: ${officerArtefact} vs ${artefact}`);
    }
    log(`artefact ${artefact}, manifest ${hash}, receipt outcome "${await visibleText(applicant, 'receipt-outcome')}"`);
    const link = await applicant.evaluate(() => ({ stopped: globalThis.globallinkSignal.stopped, state: document.body.dataset.link }));
    if (!link.stopped) throw new Error(`the applicant page still reconnects after session_closed (${link.state})`);
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

  await step('officer enrols this browser (WebCrypto key, proof of possession) and signs the artefact in the console', async () => {
    const keyStatus = officer.locator('#key-status');
    await officer.waitForSelector('#key-status:not([data-state="loading"])', { state: 'attached' });
    const before = await keyStatus.getAttribute('data-state');
    if (before === 'here') throw new Error('a fresh browser already holds a signing key');
    await officer.locator('#key-enrol').click();
    await officer.waitForSelector('#key-progress[data-state="enrolled"], #key-progress[data-state="error"]', { state: 'attached' });
    const progress = officer.locator('#key-progress');
    if ((await progress.getAttribute('data-state')) !== 'enrolled') {
      throw new Error(`enrolment failed: ${(await progress.innerText()).trim()}`);
    }
    await officer.waitForSelector('#key-status[data-state="here"]', { state: 'attached' });
    // The private key is in IndexedDB and cannot be exported.
    const extractable = await officer.evaluate(() => new Promise((resolve, reject) => {
      const open = indexedDB.open('globallink-officer', 1);
      open.onerror = () => reject(open.error);
      open.onsuccess = () => {
        const get = open.result.transaction('keys').objectStore('keys').getAll();
        get.onsuccess = () => resolve(get.result.map((r) => r.key_pair.privateKey.extractable));
        get.onerror = () => reject(get.error);
      };
    }));
    if (extractable.length !== 1 || extractable[0] !== false) {
      throw new Error(`expected one non-extractable key in IndexedDB, found ${JSON.stringify(extractable)}`);
    }
    const item = officer.locator(`[data-testid="pending-review"][data-artefact-id="${artefactId}"]`);
    await item.waitFor({ state: 'visible' });
    await item.click();
    await officer.waitForSelector(`#review-panel[data-artefact-id="${artefactId}"][data-state="ready"]`, { state: 'attached' });
    const outcome = await officer.locator('[data-testid="review-outcome"]').getAttribute('data-outcome');
    if (outcome !== 'completed') throw new Error(`the review shows outcome ${outcome}`);
    await officer.locator('#review-confirm').check();
    await officer.locator('#review-sign').click();
    await officer.waitForSelector('#review-result[data-state="signed"], #review-result[data-state="error"]', { state: 'attached' });
    const result = officer.locator('#review-result');
    if ((await result.getAttribute('data-state')) !== 'signed') {
      throw new Error(`signing failed: ${(await result.innerText()).trim()}`);
    }
    await shot(officer, 'officer-signed');
    log(`officer signed: ${(await result.innerText()).trim()}`);
  });

  await step('auditor signs in, verifies the artefact (every check ✔), downloads the bundle, finds it by date and reads its timeline', async () => {
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
      .evaluateAll((els) => els.map((e) => ({ name: e.dataset.name, ok: e.dataset.ok === 'true' })));
    if (!checks.length || checks.some((c) => !c.ok)) throw new Error(`not every check passed:\n${report}`);
    if (!/signed by officer/.test(report)) throw new Error(`the report does not show the officer's signature:\n${report}`);
    log(`verify checks: ${checks.map((c) => `${c.name} ✔`).join(', ')}`);
    const href = await auditor
      .locator(`${tid('artefact-download')}[data-artefact-id="${artefactId}"]`)
      .first()
      .getAttribute('href');
    const res = await auditorCtx.request.get(new URL(href, BASE).href);
    const body = await res.body();
    if (!res.ok()) throw new Error(`bundle download answered ${res.status()}`);
    if (body.subarray(0, 2).toString('latin1') !== 'PK') throw new Error('bundle download is not a zip file');
    log(`bundle ${href}: ${body.length} bytes`);

    // Find it by today's date read in Lisbon, open its timeline in three zones, and see the
    // views in the access log.
    const today = new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/Lisbon' }).format(new Date());
    await auditor.locator(tid('filter-from')).fill(today);
    await auditor.locator(tid('filter-to')).fill(today);
    await auditor.locator(tid('filter-tz')).fill('Europe/Lisbon');
    await auditor.locator(tid('filter-submit')).click();
    const open = auditor.locator(`${tid('open-timeline')}[data-artefact-id="${artefactId}"]`);
    await open.waitFor({ state: 'visible' });
    await open.click();
    const rows = auditor.locator(`${tid('timeline-table')} tbody tr`);
    await rows.first().waitFor({ state: 'visible' });
    const first = await rows.first().innerText();
    if (!first.includes('+08:00') || !/session opened/.test(first)) {
      throw new Error(`timeline row lacks Beijing time or the event: ${first}`);
    }
    const certs = await auditor.locator(`${tid('certificates-table')} tbody tr`).count();
    if (certs !== 4) throw new Error(`expected the officer's and the hub's certificates with the CA's, saw ${certs}`);
    await shot(auditor, 'auditor-timeline');
    await auditor.locator(tid('access-refresh')).click();
    const access = auditor.locator(`${tid('access-table')} tbody tr`);
    await access.first().waitFor({ state: 'visible' });
    const accessText = await auditor.locator(tid('access-log')).innerText();
    if (!accessText.includes('timeline') || !accessText.includes(artefactId)) {
      throw new Error(`the access log does not show the timeline view:\n${accessText}`);
    }
    log(`timeline: ${await rows.count()} events; access log: ${await access.count()} entries`);
  });

  await bookingScenario(officer, officerCtx, [decodeURIComponent(new URL(inviteUrl).hash.replace(/^#t=/, ''))]);
  await denyScenario(officer);

  if (problems.length) {
    throw new Error(`the pages reported errors or CSP violations:\n  ${problems.join('\n  ')}`);
  }
  clearTimeout(hardTimer);
  await Promise.race([browser.close(), sleep(5000)]);
  log(`PASS: the whole flow and the booking scenario worked in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  process.exit(0);
}

main().catch((e) => fail(e.message && !e.message.startsWith('step') && stepName ? new Error(`step "${stepName}": ${e.message}`) : e));
