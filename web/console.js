// Officer console: sign-in, clocks, new cases with invite links, the case list, the live desk
// (queue → take next → video call → consents, identity check, liveness, still, supporting
// documents, declarations, checklist → close and seal), and the officer's own signature on each
// sealed record (a WebCrypto key enrolled in this browser → review → sign).

import {
  $,
  ApiError,
  OFFICE_TZ,
  base64urlDecode,
  base64urlEncode,
  cityOfZone,
  copyText,
  createPeer,
  durationText,
  fetchJson,
  formatIn,
  formatInstant,
  h,
  isValidZone,
  keepSignal,
  openCamera,
  playStream,
  offerAgain,
  pruneParticipantTiles,
  showParticipantTile,
  setStatus,
  shortHash,
  shortTimeText,
  sizeText,
  stopStream,
  utcOffsetText,
  zonedParts,
  setIceServers,
} from './common.js';
import { setupAuth } from './auth.js';
import { LANGUAGE_NAMES, loadServices, renderCaseDetail, serviceLabel } from './cases.js';
import { applyTranslations, setI18n, t } from './i18n.js';

const els = {
  clocks: $('#clocks'),
  bookingsPanel: $('#bookings-panel'),
  bookingsBody: $('#bookings-body'),
  bookingsCount: $('#bookings-count'),
  bookingsEmpty: $('#bookings-empty'),
  bookingsWaiting: $('#bookings-waiting'),
  deskStatus: $('#desk-status'),
  deskReconnect: $('#desk-reconnect'),
  queuePanel: $('#queue-panel'),
  queueBody: $('#queue-body'),
  queueCount: $('#queue-count'),
  queueEmpty: $('#queue-empty'),
  takeService: $('#take-service'),
  takeNext: $('#take-next'),
  callPanel: $('#call-panel'),
  callTitle: $('#call-title'),
  callStatus: $('#call-status'),
  peerNotice: $('#peer-notice'),
  lobbyPanel: $('#lobby-panel'),
  statsPanel: $('#stats-panel'),
  statsBody: $('#stats-body'),
  knock: $('#knock'),
  knockActions: $('#knock-actions'),
  knockLocal: $('#knock-local'),
  admit: $('#admit'),
  deny: $('#deny'),
  guestForm: $('#guest-form'),
  guestRole: $('#guest-role'),
  guestName: $('#guest-name'),
  guestLinks: $('#guest-links'),
  participantTiles: $('#participant-tiles'),
  remoteVideo: $('#remote-video'),
  localVideo: $('#local-video'),
  enableSound: $('#enable-sound'),
  recordingIndicator: $('#recording-indicator'),
  consentList: $('#consent-list'),
  idForm: $('#id-form'),
  idDocType: $('#id-doc-type'),
  idCardModeBox: $('#id-card-mode-box'),
  idCardMode: $('#id-card-mode'),
  idNeeds: $('#id-needs'),
  idMrzBox: $('#id-mrz-box'),
  idMrz: $('#id-mrz'),
  idMrzHint: $('#id-mrz-hint'),
  idNumberBox: $('#id-number-box'),
  idNumberLabel: $('#id-number-label'),
  idNumber: $('#id-number'),
  idDatesBox: $('#id-dates-box'),
  idValidFromBox: $('#id-valid-from-box'),
  idValidFrom: $('#id-valid-from'),
  idValidUntil: $('#id-valid-until'),
  idLongTerm: $('#id-long-term'),
  idAttestation: $('#id-attestation'),
  idOutcome: $('#id-outcome'),
  idStatus: $('#id-status'),
  idSubmit: $('#id-submit'),
  livenessStatus: $('#liveness-status'),
  livenessPrompt: $('#liveness-prompt'),
  livenessPassed: $('#liveness-passed'),
  livenessFailed: $('#liveness-failed'),
  stillKind: $('#still-kind'),
  captureStill: $('#capture-still'),
  stillCanvas: $('#still-canvas'),
  stillStatus: $('#still-status'),
  docsEmpty: $('#docs-empty'),
  docList: $('#doc-list'),
  declarationsEmpty: $('#declarations-empty'),
  declarationList: $('#declaration-list'),
  checklistPanel: $('#checklist-panel'),
  checklistSummary: $('#checklist-summary'),
  checklistEmpty: $('#checklist-empty'),
  checklist: $('#checklist'),
  closeSession: $('#close-session'),
  sessionResult: $('#session-result'),
  sessionOutcome: $('#session-outcome'),
  sessionReason: $('#session-reason'),
  sessionResultSealed: $('#session-result-sealed'),
  sessionArtefact: $('#session-artefact'),
  sessionManifest: $('#session-manifest'),
  caseForm: $('#case-form'),
  caseService: $('#case-service'),
  caseName: $('#case-name'),
  caseTz: $('#case-tz'),
  caseTzPreview: $('#case-tz-preview'),
  caseLang: $('#case-lang'),
  caseError: $('#case-error'),
  caseCreate: $('#case-create'),
  inviteBox: $('#invite-box'),
  inviteName: $('#invite-name'),
  inviteUrl: $('#invite-url'),
  inviteExpires: $('#invite-expires'),
  copyInvite: $('#copy-invite'),
  copyStatus: $('#copy-status'),
  evidenceEmpty: $('#evidence-empty'),
  evidenceLog: $('#evidence-log'),
  casesRefresh: $('#cases-refresh'),
  casesStatus: $('#cases-status'),
  casesBody: $('#cases-body'),
  caseDetail: $('#case-detail'),
  keyPanel: $('#key-panel'),
  keyHeading: $('#h-key'),
  keyStatus: $('#key-status'),
  keyEnrol: $('#key-enrol'),
  keyCheck: $('#key-check'),
  keyProgress: $('#key-progress'),
  signaturesPanel: $('#signatures-panel'),
  pendingHeading: $('#h-pending'),
  pendingCount: $('#pending-count'),
  pendingRefresh: $('#pending-refresh'),
  pendingStatus: $('#pending-status'),
  pendingEmpty: $('#pending-empty'),
  pendingList: $('#pending-list'),
  reviewPanel: $('#review-panel'),
  reviewHeading: $('#h-review'),
  reviewStatus: $('#review-status'),
  reviewSummary: $('#review-summary'),
  reviewForm: $('#review-form'),
  reviewConfirm: $('#review-confirm'),
  reviewSign: $('#review-sign'),
  reviewNeedKey: $('#review-need-key'),
  reviewNeedKeyText: $('#review-need-key-text'),
  reviewGoEnrol: $('#review-go-enrol'),
  reviewResult: $('#review-result'),
  reviewClose: $('#review-close'),
};

const DEFAULT_ATTESTATION =
  'Document held to the camera and examined; the face on the video compared with the document photo.';

/** Largest upload the hub accepts (docs/api.md). */
const MAX_UPLOAD_BYTES = 10 * 1024 * 1024;

const CONSENT_LABELS = {
  recording: 'Recording of the session',
  'personal-information': 'Processing of personal information',
  'cross-border-transfer': 'Cross-border transfer of personal information',
  'e-signature': 'Electronic signature',
};
const DOCUMENT_TYPE_LABELS = { 'id-card': 'ID card', passport: 'passport', 'driving-licence': 'driving licence' };
const KIND_LABELS = {
  'identity-document': 'Identity document',
  'death-certificate': 'Death certificate',
  'kinship-proof': 'Proof of kinship',
  'medical-certificate': 'Medical certificate',
};
const DECLARATION_LABELS = {
  inheritance: "Heir's declaration (inheritance)",
  'driving-licence-renewal': 'Declaration for the driving-licence renewal',
  'id-card-renewal': 'Declaration for the ID-card renewal',
};
const OUTCOME_LABELS = {
  completed: 'completed',
  incomplete: 'incomplete (checklist not satisfied)',
  refused: 'refused (a required consent was refused or withdrawn)',
  denied: 'denied (not admitted from the waiting room)',
  interrupted: 'interrupted',
};

/** "death-certificate" → "Death certificate" for ids without a label. */
function slugLabel(id) {
  const s = String(id || '').replace(/[-_]+/g, ' ').trim();
  return s ? s[0].toUpperCase() + s.slice(1) : '';
}
const consentLabel = (c) => CONSENT_LABELS[c] || slugLabel(c);
const kindLabel = (k) => KIND_LABELS[k] || slugLabel(k);
const declarationLabel = (d) => DECLARATION_LABELS[d] || slugLabel(d);
const documentTypeLabel = (t) => DOCUMENT_TYPE_LABELS[t] || slugLabel(t).toLowerCase();

/** A checklist item id (`consent:recording`, `identity:passport|id-card`, …) in words. */
function itemLabel(item) {
  const i = item.indexOf(':');
  const type = i < 0 ? item : item.slice(0, i);
  const rest = i < 0 ? '' : item.slice(i + 1);
  switch (type) {
    case 'consent':
      return `Consent: ${consentLabel(rest)}`;
    case 'identity':
      return `Identity check: ${rest.split('|').map(documentTypeLabel).join(' or ')} (face match)`;
    case 'liveness':
      return 'Liveness check passed';
    case 'still':
      return `Still: ${kindLabel(rest).toLowerCase()}`;
    case 'document':
      return `Document: ${kindLabel(rest).toLowerCase()}`;
    case 'declaration':
      return `Declaration: ${declarationLabel(rest)}`;
    default:
      return slugLabel(item);
  }
}

const state = {
  /** Who waits in the lobby of the current session: `{role, name, tz, since}`, or null. */
  knock: null,
  /** Others knocking after `knock`, answered in turn. */
  knocks: [],
  /** Everyone in the call as the hub lists them: `[{role, name, tz}]`. */
  participants: [],
  me: null,
  services: null,
  /** The desk's signalling link (keepSignal): reconnects by itself after a drop. */
  link: null,
  /** After a reconnection in a session: gives up waiting for `paired` (resumed) after a while. */
  resumeTimer: null,
  peerNoticeTimer: null,
  /** Bumped by every `paired`, so a slower earlier one does not install its peer. */
  pairGen: 0,
  /** Set by setupAuth: shows the sign-in form (a 401 for the desk ticket). */
  showLogin: null,
  queue: [],
  /** `{id, caseId, peer:{role,name,tz}, service}` while a session is open. */
  session: null,
  peer: null,
  localStream: null,
  /** frame id → `{what, …}`, to route `ack`/`error` with a `ref`. */
  pending: new Map(),
  resumeSound: null,
  selectedCase: null,
  /** The checklist of the current (or last) session as the hub last sent it. */
  checklist: [],
  /** Items that the last `checklist` message un-satisfied (a withdrawn consent). */
  lostItems: [],
  /** What the session's service needs: `{consents, identity, liveness, stills, documents, declarations}`. */
  tools: null,
  /** Whether `tools` came from the catalogue (else derived from the checklist items). */
  toolsFromCatalogue: false,
  /** consent → `{state, seq, text}`; state none|requesting|requested|granted|refused|withdrawn|error. */
  consents: new Map(),
  /** Consents requested and not yet answered, oldest first (the applicant answers in order). */
  awaitingConsent: [],
  /** none|requesting|prompted|responded|attesting|passed|failed|error. */
  liveness: 'none',
  /** declaration → `{state, seq, text}`. */
  declarations: new Map(),
  lastDeclaration: null,
  /** The desk's last `bookings` message: `[{id, case_id, applicant_name, service, tz, start, end}]`. */
  bookings: [],
  /** How many `bookings` messages arrived (shown as data-updates on the panel). */
  bookingUpdates: 0,
  /** The clock set last rendered, to rebuild the header only when it changes. */
  clockKey: '',
  /**
   * The officer's signing key: the IndexedDB record (`{officer_id, key_pair, x5c, serial,
   * not_after}`), the hub's certificate (null: none), and what failed while reading them.
   */
  key: { loaded: false, record: null, cert: null, certError: null, storeError: null },
  /** Bumped by every key check, so a slower earlier one does not overwrite a later state. */
  keyGen: 0,
  enrolling: false,
  /** GET /api/officers/me/signatures/pending as last loaded, and its error. */
  pendingSignatures: [],
  pendingError: null,
  pendingGen: 0,
  /** Artefacts signed from this page (hidden from the list even if it lags behind). */
  signedArtefacts: new Set(),
  /** The record under review: `{id, data, manifest, signed}`; data is the hub's `signing` answer. */
  review: null,
  reviewGen: 0,
  signing: false,
};
// ---------------------------------------------------------------- clocks
// Beijing first, then the applicant in session, then the zones of today's applicants (queue
// and bookings, most common first), padded to four. Rebuilt when the queue, the bookings or
// the session change; the text is updated every second from the browser's clock (Intl), never
// by asking the hub.

/** Shown after Beijing when fewer than four zones are in play today. */
const PAD_ZONES = ['Europe/Lisbon', 'Europe/Rome', 'America/New_York'];
const MIN_CLOCKS = 4;
const MAX_CLOCKS = 8;
const DAY_MS = 24 * 3600 * 1000;

const zoneChecks = new Map();
/** A zone this browser knows (cached: the clocks ask every second). */
function zoneOk(tz) {
  if (typeof tz !== 'string' || tz === '') return false;
  if (!zoneChecks.has(tz)) zoneChecks.set(tz, isValidZone(tz));
  return zoneChecks.get(tz);
}
const dayNightCue = (night) => (night ? '☾' : '☀');
const shortDay = (date, tz) => formatIn(date, tz, 'en-GB', { weekday: 'short', day: 'numeric', month: 'short' });

/** Bookings that are "today" for the desk: on Beijing's date, or not over and starting within 24 h. */
function todaysBookings(now) {
  const today = zonedParts(now, OFFICE_TZ).date;
  return state.bookings.filter((b) => {
    const start = new Date(b.start);
    const end = new Date(b.end || b.start);
    if (zonedParts(start, OFFICE_TZ).date === today) return true;
    return end > now && start - now < DAY_MS;
  });
}

function clockZones(now) {
  const tally = new Map();
  const count = (tz, kind) => {
    if (!zoneOk(tz) || tz === OFFICE_TZ) return;
    const c = tally.get(tz) || { n: 0, waiting: 0, booked: 0, order: tally.size };
    c.n += 1;
    c[kind] += 1;
    tally.set(tz, c);
  };
  for (const e of state.queue) count(e.tz, 'waiting');
  for (const b of todaysBookings(now)) count(b.tz, 'booked');
  const ranked = [...tally.entries()].sort((a, b) => b[1].n - a[1].n || a[1].order - b[1].order).map(([tz]) => tz);
  const clocks = [{ tz: OFFICE_TZ, role: 'office' }];
  const has = (tz) => clocks.some((c) => c.tz === tz);
  const sessionTz = state.session && state.session.peer && state.session.peer.tz;
  if (zoneOk(sessionTz) && sessionTz !== OFFICE_TZ) clocks.push({ tz: sessionTz, role: 'session' });
  for (const tz of ranked) if (!has(tz) && clocks.length < MAX_CLOCKS) clocks.push({ tz, role: 'applicants' });
  for (const tz of PAD_ZONES) if (!has(tz) && clocks.length < MIN_CLOCKS) clocks.push({ tz, role: 'default' });
  for (const c of clocks) c.tally = tally.get(c.tz) || null;
  return clocks;
}

function clockTitle(c) {
  const parts = [c.tz];
  if (c.role === 'office') parts.push('the office');
  if (c.role === 'session') parts.push('applicant in session');
  if (c.tally) {
    if (c.tally.waiting) parts.push(`${c.tally.waiting} waiting`);
    if (c.tally.booked) parts.push(`${c.tally.booked} booked today`);
  }
  return parts.join(' · ');
}

/** Rebuild the set of clocks if it changed (queue, bookings or session), then tick them. */
function renderClocks(now = new Date()) {
  const clocks = clockZones(now);
  const key = clocks.map((c) => `${c.tz}:${c.role}:${clockTitle(c)}`).join('|');
  if (key !== state.clockKey) {
    state.clockKey = key;
    els.clocks.replaceChildren(
      ...clocks.map((c) =>
        h(
          'li',
          {
            class: `clock${c.role === 'office' ? ' is-office' : ''}${c.role === 'session' ? ' is-session' : ''}`,
            title: clockTitle(c),
            dataset: { testid: 'clock', zone: c.tz, role: c.role },
          },
          h(
            'span',
            { class: 'city', dataset: { part: 'city' } },
            c.role === 'session' ? `${cityOfZone(c.tz)} · in session` : cityOfZone(c.tz),
          ),
          h('time', { class: 'clock-time', dataset: { part: 'time' } }),
          h(
            'span',
            { class: 'clock-meta' },
            h('span', { class: 'daynight', 'aria-hidden': 'true', dataset: { part: 'cue' } }),
            h('span', { class: 'visually-hidden', dataset: { part: 'cue-text' } }),
            h('span', { dataset: { part: 'offset' } }),
            h('span', { dataset: { part: 'date' } }),
          ),
        ),
      ),
    );
  }
  tickClocks(now);
}

function tickClocks(now) {
  const beijingDate = zonedParts(now, OFFICE_TZ).date;
  for (const li of els.clocks.children) {
    const tz = li.dataset.zone;
    const p = zonedParts(now, tz);
    const night = p.hour < 7 || p.hour >= 20;
    const part = (name) => li.querySelector(`[data-part="${name}"]`);
    const time = part('time');
    time.textContent = p.hhmmss;
    time.dateTime = now.toISOString();
    part('offset').textContent = utcOffsetText(now, tz);
    const date = part('date');
    date.textContent = p.date !== beijingDate ? shortDay(now, tz) : '';
    date.hidden = p.date === beijingDate;
    part('cue').textContent = dayNightCue(night);
    part('cue-text').textContent = night ? 'night' : 'day';
    li.classList.toggle('is-night', night);
    li.classList.toggle('is-day', !night);
    li.dataset.night = String(night);
    li.dataset.date = p.date;
  }
}

function tick() {
  const now = new Date();
  renderClocks(now);
  renderKnock();
  // Queue rows: applicant's local time and how long they have waited.
  for (const row of els.queueBody.querySelectorAll('tr')) {
    const local = row.querySelector('[data-col="local"]');
    const since = row.querySelector('[data-col="since"]');
    if (local && row.dataset.tz) local.textContent = applicantLocalText(row.dataset.tz, now);
    if (since && row.dataset.since) since.textContent = waitingText(row.dataset.since, now);
  }
  tickBookings(now);
}

/** "Sat 10:05 ☀ · Lisbon (UTC+00:00)": the weekday only when it is another day than in Beijing. */
function applicantLocalText(tz, now) {
  if (!zoneOk(tz)) return `unknown zone ${tz}`;
  const p = zonedParts(now, tz);
  const night = p.hour < 7 || p.hour >= 20;
  const day = p.date !== zonedParts(now, OFFICE_TZ).date ? `${formatIn(now, tz, 'en-GB', { weekday: 'short' })} ` : '';
  return `${day}${p.hhmm} ${dayNightCue(night)} · ${cityOfZone(tz)} (${utcOffsetText(now, tz)})`;
}

function waitingText(iso, now) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${shortTimeText(d, undefined)} (${durationText(now - d)})`;
}

// ---------------------------------------------------------------- bookings (live, from the desk)

function onBookings(msg) {
  state.bookings = (Array.isArray(msg.entries) ? msg.entries : [])
    .filter((b) => b && typeof b.start === 'string' && !Number.isNaN(new Date(b.start).getTime()))
    .sort((a, b) => new Date(a.start) - new Date(b.start));
  state.bookingUpdates += 1;
  els.bookingsPanel.dataset.updates = String(state.bookingUpdates);
  els.bookingsPanel.dataset.receivedAt = new Date().toISOString();
  renderBookings();
  renderClocks();
}

/** "Sat 28 Nov 09:00–09:20" in Beijing. */
function officeStartText(start, end) {
  const from = zonedParts(start, OFFICE_TZ).hhmm;
  const to = Number.isNaN(end.getTime()) ? '' : `–${zonedParts(end, OFFICE_TZ).hhmm}`;
  return `${shortDay(start, OFFICE_TZ)} ${from}${to}`;
}

/** "Sat 28 Nov 01:00 ☾ · Lisbon (UTC+00:00)". */
function localStartText(start, tz) {
  const p = zonedParts(start, tz);
  const night = p.hour < 7 || p.hour >= 20;
  return `${shortDay(start, tz)} ${p.hhmm} ${dayNightCue(night)} · ${cityOfZone(tz)} (${utcOffsetText(start, tz)})`;
}

function renderBookings() {
  els.bookingsWaiting.hidden = true;
  els.bookingsBody.replaceChildren(
    ...state.bookings.map((b) => {
      const start = new Date(b.start);
      const end = new Date(b.end);
      return h(
        'tr',
        {
          title: zoneOk(b.tz) ? b.tz : '',
          dataset: { testid: 'booking-row', bookingId: b.id, caseId: b.case_id, start: b.start, end: b.end || '', tz: b.tz || '' },
        },
        h('td', { dataset: { col: 'office', testid: 'booking-office' } }, officeStartText(start, end)),
        h(
          'td',
          { dataset: { col: 'local', testid: 'booking-local' } },
          zoneOk(b.tz) ? localStartText(start, b.tz) : `unknown zone ${b.tz}`,
        ),
        h('td', { dataset: { testid: 'booking-name' } }, b.applicant_name || ''),
        h('td', {}, serviceLabel(state.services, b.service)),
        h('td', { dataset: { col: 'when', testid: 'booking-when' } }),
      );
    }),
  );
  els.bookingsCount.textContent = String(state.bookings.length);
  els.bookingsEmpty.hidden = state.bookings.length > 0;
  tickBookings(new Date());
}

/** Each booking's "in 2 h 05 min" / "now" / "ended", and its row class. */
function tickBookings(now) {
  for (const row of els.bookingsBody.querySelectorAll('tr')) {
    const start = new Date(row.dataset.start);
    const end = row.dataset.end ? new Date(row.dataset.end) : start;
    const when = row.querySelector('[data-col="when"]');
    let phase;
    if (now < start) {
      phase = 'upcoming';
      when.textContent = `in ${durationText(start - now)}`;
    } else if (now < end) {
      phase = 'now';
      when.textContent = 'now';
    } else {
      phase = 'past';
      when.textContent = `ended ${durationText(now - end)} ago`;
    }
    row.dataset.phase = phase;
    row.classList.toggle('is-now', phase === 'now');
    row.classList.toggle('is-past', phase === 'past');
  }
}

// ---------------------------------------------------------------- services, cases

async function loadServiceOptions() {
  try {
    state.services = await loadServices();
  } catch (err) {
    setStatus(els.caseError, `Could not load the services: ${err.message}`, 'error');
    state.services = { list: [], byCode: {} };
  }
  els.caseService.replaceChildren();
  const keepTake = els.takeService.value;
  els.takeService.replaceChildren(h('option', { value: '' }, 'Any service'));
  for (const s of state.services.list) {
    const label = serviceLabel(state.services, s.code);
    els.caseService.append(h('option', { value: s.code }, label));
    els.takeService.append(h('option', { value: s.code }, label));
  }
  els.takeService.value = keepTake;
  els.caseService.dataset.loaded = 'true';
}

function updateTzPreview() {
  const tz = els.caseTz.value.trim();
  if (!tz) {
    els.caseTzPreview.textContent = '';
    els.caseTz.setCustomValidity('');
    return;
  }
  if (isValidZone(tz)) {
    els.caseTz.setCustomValidity('');
    els.caseTzPreview.textContent = `Local time there now: ${shortTimeText(new Date(), tz)}.`;
  } else {
    els.caseTz.setCustomValidity('Unknown time zone');
    els.caseTzPreview.textContent = 'This is not a known IANA time zone.';
  }
}

async function createCase(ev) {
  ev.preventDefault();
  setStatus(els.caseError, '');
  const body = {
    service: els.caseService.value,
    applicant_name: els.caseName.value.trim(),
    applicant_tz: els.caseTz.value.trim(),
    applicant_lang: els.caseLang.value,
  };
  if (!body.service) return setStatus(els.caseError, 'Choose a service.', 'error');
  if (!body.applicant_name) {
    els.caseName.focus();
    return setStatus(els.caseError, "Enter the applicant's name.", 'error');
  }
  if (!isValidZone(body.applicant_tz)) {
    els.caseTz.focus();
    return setStatus(els.caseError, 'Enter a valid IANA time zone, for example Europe/Lisbon.', 'error');
  }
  els.caseCreate.disabled = true;
  try {
    const res = await fetchJson('/api/cases', { method: 'POST', json: body });
    const url = new URL(res.invite_url, location.origin).href;
    els.inviteUrl.value = url;
    els.inviteUrl.dataset.caseId = res.case && res.case.id ? res.case.id : '';
    els.inviteName.textContent = body.applicant_name;
    els.inviteExpires.textContent = res.invite_expires_at
      ? `Valid until ${formatInstant(res.invite_expires_at)} (your time) · ${formatInstant(res.invite_expires_at, 'en-GB', body.applicant_tz)} (applicant's time). Send it to the applicant only.`
      : '';
    els.copyStatus.textContent = '';
    els.inviteBox.hidden = false;
    els.inviteUrl.focus();
    els.inviteUrl.select();
    els.caseForm.reset();
    els.caseTzPreview.textContent = '';
    loadCases();
  } catch (err) {
    setStatus(els.caseError, err.message, 'error');
  } finally {
    els.caseCreate.disabled = false;
  }
}

async function loadCases() {
  setStatus(els.casesStatus, '');
  let cases;
  try {
    cases = await fetchJson('/api/cases');
  } catch (err) {
    setStatus(els.casesStatus, `Could not load the cases: ${err.message}`, 'error');
    return;
  }
  els.casesBody.replaceChildren();
  if (!cases || cases.length === 0) {
    els.casesBody.append(h('tr', {}, h('td', { colspan: 6, class: 'muted' }, 'No cases yet.')));
    return;
  }
  for (const c of cases) {
    const open = h(
      'button',
      { type: 'button', class: 'btn secondary small', dataset: { testid: 'case-open', caseId: c.id } },
      c.applicant_name,
    );
    open.addEventListener('click', () => openCase(c.id));
    els.casesBody.append(
      h(
        'tr',
        { dataset: { testid: 'case-row', caseId: c.id }, class: c.id === state.selectedCase ? 'selected' : '' },
        h('td', {}, open),
        h('td', {}, serviceLabel(state.services, c.service)),
        h('td', {}, c.applicant_tz),
        h('td', {}, LANGUAGE_NAMES[c.applicant_lang] || c.applicant_lang),
        h('td', {}, formatInstant(c.created_at)),
        h('td', {}, formatInstant(c.invite_expires_at)),
      ),
    );
  }
  if (state.selectedCase) openCase(state.selectedCase, { focus: false });
}

async function openCase(id, { focus = true } = {}) {
  state.selectedCase = id;
  for (const row of els.casesBody.querySelectorAll('tr')) {
    row.classList.toggle('selected', row.dataset.caseId === id);
  }
  try {
    const detail = await fetchJson(`/api/cases/${encodeURIComponent(id)}`);
    renderCaseDetail(els.caseDetail, detail, state.services);
    if (focus) els.caseDetail.focus();
  } catch (err) {
    els.caseDetail.hidden = false;
    els.caseDetail.replaceChildren(h('p', { class: 'status is-error' }, `Could not load the case: ${err.message}`));
  }
}

// ---------------------------------------------------------------- live desk

function deskStatus(text, kind = '', stateName = '') {
  setStatus(els.deskStatus, text, kind);
  if (stateName) els.deskStatus.dataset.state = stateName;
}

/** How long to wait for `paired` after a reconnection in a session before giving it up. */
const RESUME_WAIT_MS = 10000;

/** The desk link is up: frames can be sent. */
function deskUp() {
  return !!state.link && state.link.isUp;
}

/**
 * Open the desk: a signalling link that reconnects by itself (backoff, a fresh ticket for each
 * attempt). Also called by the Reconnect button: then it retries at once, or starts a new link
 * if the old one stopped for good.
 */
function connectDesk() {
  if (state.link && !state.link.stopped) {
    state.link.retryNow();
    return;
  }
  els.deskReconnect.hidden = true;
  state.link = keepSignal({
    auth: async () => {
      try {
        const { ticket } = await fetchJson('/api/ws-ticket', { method: 'POST' });
        return { type: 'auth', ticket };
      } catch (err) {
        // Signed out (or no longer an officer): retrying cannot help.
        if (err.status === 401 || err.status === 403) err.final = true;
        throw err;
      }
    },
    onMessage: handleMessage,
    onState: onDeskLink,
  });
}

function onDeskLink(info) {
  document.body.dataset.link = info.state;
  els.deskStatus.dataset.reconnects = String(info.reconnects);
  switch (info.state) {
    case 'connecting':
      if (info.attempt === 0) deskStatus('Connecting to the desk…', '', 'connecting');
      break;
    case 'up':
      els.deskReconnect.hidden = true;
      setLinkBlocked(false);
      if (info.resumed) els.bookingsWaiting.hidden = true;
      break;
    case 'down': {
      clearTimeout(state.resumeTimer);
      setLinkBlocked(true);
      els.takeNext.disabled = true;
      const why = info.error ? ` (${info.error.message})` : info.reason ? ` (${info.reason})` : '';
      deskStatus(
        `${info.online ? 'Connection to the desk lost' : 'You are offline'} — reconnecting… (attempt ${info.attempt})${why}`,
        'warn',
        'reconnecting',
      );
      els.deskStatus.dataset.attempt = String(info.attempt);
      els.deskReconnect.textContent = 'Reconnect now';
      els.deskReconnect.hidden = false;
      // No more live updates until the desk is back (it sends the bookings again on connect).
      els.bookingsWaiting.textContent = 'Reconnecting to the desk: these bookings may be out of date.';
      els.bookingsWaiting.hidden = false;
      if (state.session) {
        els.callStatus.textContent = 'Your connection to the desk dropped; reconnecting. The session waits for you.';
      }
      break;
    }
    case 'stopped':
      onDeskStopped(info);
      break;
    default:
      break;
  }
}

function onDeskStopped(info) {
  clearTimeout(state.resumeTimer);
  setLinkBlocked(false);
  if (info.reason === 'stopped') return; // signed out on purpose
  endCall();
  els.takeNext.disabled = true;
  els.deskReconnect.textContent = 'Reconnect';
  els.deskReconnect.hidden = false;
  els.bookingsWaiting.textContent = 'Disconnected from the desk: these bookings may be out of date.';
  els.bookingsWaiting.hidden = false;
  if (info.reason === 'moved') {
    deskStatus('This session continues in another window. Reconnect here to take the desk back.', 'warn', 'moved');
    return;
  }
  const text = info.message || (info.error && info.error.message) || info.code || 'refused';
  deskStatus(`The desk refused the connection: ${text}.`, 'error', 'disconnected');
  if (info.error && info.error.status === 401) {
    state.me = null;
    els.deskReconnect.hidden = true;
    if (state.showLogin) state.showLogin('Your sign-in has expired. Sign in again to reopen the desk.');
  }
}

/** The session tools that send frames are inert while the desk link is down. */
function setLinkBlocked(blocked) {
  state.linkBlocked = blocked;
  if (blocked) els.callPanel.dataset.link = 'down';
  else delete els.callPanel.dataset.link;
  updateInert();
}

/**
 * Tools are inert while the desk link is down, and those that involve the applicant
 * (`data-needs-admission`) also while the applicant waits in the lobby: the hub would refuse
 * them with `not_admitted`.
 */
function updateInert() {
  const waiting = els.callPanel.dataset.lobby === 'waiting';
  for (const el of document.querySelectorAll('[data-needs-link], [data-needs-admission]')) {
    el.inert =
      (!!state.linkBlocked && el.hasAttribute('data-needs-link')) || (waiting && el.hasAttribute('data-needs-admission'));
  }
}

/**
 * Send a frame; `what` (`{what: 'identity_check', …}`) is kept under the frame id so the
 * matching `ack`s and `error` (which carry it as `ref`) can be routed. One frame may cause
 * several acks (`request_consent` → `notice_shown` + `consent_requested`), so entries stay
 * until the session ends.
 */
function send(msg, what) {
  if (!deskUp()) {
    if (state.session) els.callStatus.textContent = 'Not connected to the desk: wait for the reconnection, then try again.';
    else deskStatus('Not connected to the desk.', 'error');
    return null;
  }
  const id = state.link.send(msg);
  if (id != null && what) state.pending.set(id, typeof what === 'string' ? { what } : what);
  return id;
}

function handleMessage(msg) {
  switch (msg.type) {
    case 'welcome': {
      const again = state.link && state.link.reconnects > 0;
      const name = msg.name || (state.me && state.me.username) || '';
      deskStatus(again ? `Reconnected to the desk as ${name}.` : `Connected as ${name}.`, 'ok', 'connected');
      updateTakeNext();
      if (state.session) {
        // Back after a drop in a session: the hub sends `paired` (resumed) if it waited.
        clearTimeout(state.resumeTimer);
        state.resumeTimer = setTimeout(sessionNotResumed, RESUME_WAIT_MS);
        els.callStatus.textContent = 'Reconnected to the desk; resuming the session…';
      }
      break;
    }
    case 'queue':
      state.queue = Array.isArray(msg.entries) ? msg.entries : [];
      renderQueue();
      renderClocks();
      break;
    case 'bookings':
      onBookings(msg);
      break;
    case 'ice_servers':
      setIceServers(msg.servers);
      break;
    case 'paired':
      onPaired(msg);
      break;
    case 'knock':
      onKnock(msg);
      break;
    case 'guest_invite':
      onGuestInvite(msg);
      break;
    case 'participants':
      state.participants = Array.isArray(msg.participants) ? msg.participants : [];
      pruneParticipantTiles(els.participantTiles, state.participants, participantLabel);
      break;
    case 'renegotiate':
      onRenegotiate(msg);
      break;
    case 'answer':
      onAnswer(msg);
      break;
    case 'checklist':
      onChecklist(msg);
      break;
    case 'liveness_prompt':
      state.livenessText = typeof msg.text === 'string' ? msg.text : '';
      if (state.liveness === 'prompted') {
        setLiveness('prompted', `The applicant is asked: “${state.livenessText}”. Watch the video; waiting for them to say done…`);
      }
      break;
    case 'ack':
      onAck(msg);
      break;
    case 'recording':
      onRecording(msg);
      break;
    case 'peer_state':
      onPeerState(msg);
      break;
    case 'call_stats':
      onCallStats(msg);
      break;
    case 'session_closed':
      onSessionClosed(msg);
      break;
    case 'draining':
      deskStatus(
        `The hub is restarting: open sessions end as interrupted and are sealed; the desk reconnects by itself in about ${msg.retry_after_secs || 30} s.`,
        'warn',
        'draining',
      );
      break;
    case 'error':
      onError(msg);
      break;
    default:
      break;
  }
}

function renderQueue() {
  els.queueBody.replaceChildren();
  const now = new Date();
  for (const e of state.queue) {
    els.queueBody.append(
      h(
        'tr',
        { dataset: { testid: 'queue-row', caseId: e.case_id, tz: e.tz || '', since: e.waiting_since || '' } },
        h('td', {}, e.applicant_name),
        h('td', {}, serviceLabel(state.services, e.service)),
        h('td', {}, LANGUAGE_NAMES[e.lang] || e.lang || ''),
        h('td', { dataset: { col: 'local', testid: 'queue-local' } }, applicantLocalText(e.tz, now)),
        h('td', { dataset: { col: 'since' } }, waitingText(e.waiting_since, now)),
      ),
    );
  }
  els.queueCount.textContent = String(state.queue.length);
  els.queueEmpty.hidden = state.queue.length > 0;
  updateTakeNext();
}

function updateTakeNext() {
  els.takeNext.disabled = !deskUp() || !!state.session || state.queue.length === 0;
}

/**
 * Take the next applicant. The camera is opened first, inside the click, so a permission
 * prompt never keeps an applicant who is already paired waiting.
 */
async function takeNext() {
  els.takeNext.disabled = true;
  // A new session's log and checklist start here: the hub acks `session_opened` (and sends
  // the first checklist) before it sends `paired`.
  els.evidenceLog.replaceChildren();
  els.evidenceEmpty.hidden = false;
  state.checklist = [];
  state.lostItems = [];
  renderChecklist();
  if (!state.localStream) {
    deskStatus('Starting your camera and microphone…', '', 'connected');
    try {
      state.localStream = await openCamera();
      deskStatus(`Connected as ${state.me.username}.`, 'ok', 'connected');
    } catch (err) {
      state.localStream = null;
      deskStatus(
        `Camera or microphone unavailable (${err.name || err.message}): the applicant will not see or hear you.`,
        'warn',
        'connected',
      );
    }
  }
  const service = els.takeService.value || undefined;
  send(service ? { type: 'take_next', service } : { type: 'take_next' }, 'take_next');
}

/**
 * Paired with an applicant, or (`resumed: true`) back in the same session after a dropped
 * connection or a reload. A resume on the same page keeps everything shown (consents,
 * checklist, evidence log, tools) and only replaces the peer connection; after a reload the
 * panel is rebuilt and what the checklist says is done is shown as done.
 */
async function onPaired(msg) {
  clearTimeout(state.resumeTimer);
  const sameSession = !!msg.resumed && !!state.session && state.session.id === msg.session_id;
  els.callPanel.dataset.sessionId = msg.session_id || '';
  if (msg.resumed) els.callPanel.dataset.resumed = String(Number(els.callPanel.dataset.resumed || 0) + 1);
  if (sameSession) {
    els.callStatus.textContent = 'Back in the session; reconnecting the video…';
    setLinkBlocked(false);
    // The hub kept our media connection: resume it with an ICE restart instead of a new one.
    if (msg.media === 'resume' && (await resumeMedia())) return;
    await startMedia();
    return;
  }
  const queued = state.queue.find((e) => e.case_id === msg.case_id);
  clearKnock();
  delete els.callPanel.dataset.lobby;
  updateInert();
  state.session = {
    id: msg.session_id,
    caseId: msg.case_id,
    peer: msg.peer || { role: 'applicant', name: '', tz: '' },
    service: queued ? queued.service : null,
    /** Rebuilt after a reload: the checklist tells what was already done. */
    restored: !!msg.resumed,
  };
  els.sessionResult.hidden = true;
  els.queuePanel.hidden = true;
  els.callPanel.hidden = false;
  const p = state.session.peer;
  els.callTitle.textContent = `In session with ${p.name || 'the applicant'}`;
  els.callStatus.textContent = msg.resumed ? 'Resuming the session…' : 'Starting the camera…';
  resetCallControls();
  setupTools();
  restoreFromChecklist();
  renderChecklist();
  tick();
  await startMedia();
}

/**
 * Someone knocks: the applicant waits in the lobby until the officer admits or denies them.
 * Shown with their role and their local time (kept current by the clock tick).
 */
function onKnock(msg) {
  const knock = { role: msg.role || 'applicant', name: msg.name || '', tz: msg.tz || '', since: msg.since || '' };
  if (state.knock && state.knock.role !== knock.role) {
    // Someone else is being answered: this one waits their turn (shown once that is done).
    state.knocks = state.knocks.filter((k) => k.role !== knock.role).concat([knock]);
    return;
  }
  state.knock = knock;
  els.lobbyPanel.dataset.state = 'knocking';
  els.callPanel.dataset.lobby = 'waiting';
  updateInert();
  const k = state.knock;
  // Announced once, on arrival; the local time below keeps ticking.
  setI18n(els.knock, 'lobbyKnock', {
    name: k.name,
    role: guestRoleLabel(k.role),
    time: applicantLocalText(k.tz, new Date()),
  });
  els.knock.dataset.tz = k.tz;
  els.admit.setAttribute('aria-label', t('lobbyAdmitFor', { name: k.name }));
  els.deny.setAttribute('aria-label', t('lobbyDenyFor', { name: k.name }));
  els.knockLocal.hidden = false;
  renderKnock();
  els.knockActions.hidden = false;
  els.admit.disabled = false;
  els.deny.disabled = false;
}

/** The knocking applicant's local time, now. */
function renderKnock() {
  const k = state.knock;
  if (!k) return;
  setI18n(els.knockLocal, 'lobbyLocalTime', { time: applicantLocalText(k.tz, new Date()) });
}

/** `interpreter-1` → the role's name in the console's language. */
function guestRoleLabel(participant) {
  return t(`lobbyRole_${String(participant).replace(/-\d+$/, '')}`);
}

/** How a participant is captioned: their name and role. */
function participantLabel(p) {
  return t('participantTile', { name: p.name || p.role, role: guestRoleLabel(p.role) });
}

/** Nobody knocks (a new session, or the answer went out): `note` says what happened. */
function clearKnock(note, vars) {
  state.knock = null;
  els.knockActions.hidden = true;
  els.admit.removeAttribute('aria-label');
  els.deny.removeAttribute('aria-label');
  delete els.knock.dataset.tz;
  els.knockLocal.hidden = true;
  setI18n(els.knockLocal, null);
  setI18n(els.knock, note || 'lobbyNobody', vars);
  els.lobbyPanel.dataset.state = note === 'lobbyAdmittedNote' ? 'admitted' : note === 'lobbyDeniedNote' ? 'denied' : 'empty';
}

function answerKnock(admit) {
  if (!state.knock) return;
  const { name, role } = state.knock;
  const msg = { type: admit ? 'admit' : 'deny', participant: role };
  if (send(msg, { what: admit ? 'admit' : 'deny', name, role }) == null) return;
  els.admit.disabled = true;
  els.deny.disabled = true;
}

/** A new peer connection with the hub (the old one closed) and its offer. */
async function startMedia() {
  const gen = ++state.pairGen;
  const session = state.session;
  if (state.peer) {
    state.peer.close();
    state.peer = null;
  }
  if (!state.localStream) {
    try {
      state.localStream = await openCamera();
    } catch (err) {
      els.callStatus.textContent = `Camera or microphone unavailable (${err.name || err.message}); the applicant will not see you.`;
      state.localStream = null;
    }
    if (gen !== state.pairGen || state.session !== session) return;
  }
  els.localVideo.srcObject = state.localStream;
  if (state.localStream) els.localVideo.play().catch(() => {});
  const name = (session && session.peer && session.peer.name) || 'the applicant';
  let peer;
  try {
    peer = await createPeer(
      state.localStream,
      (stream) =>
        playStream(els.remoteVideo, stream, (resume) => {
          state.resumeSound = resume;
          els.enableSound.hidden = false;
        }),
      {
        main: 'applicant',
        onOtherStream: (id, stream) => {
          const p = state.participants.find((x) => x.role === id) || { role: id, name: '' };
          showParticipantTile(els.participantTiles, id, stream, participantLabel(p));
        },
      },
    );
  } catch (err) {
    els.callStatus.textContent = `Could not set up the video connection: ${err.message}`;
    return;
  }
  if (gen !== state.pairGen || state.session !== session) {
    // The session ended (or was resumed again) while the offer was being prepared.
    peer.close();
    return;
  }
  state.peer = peer;
  const pc = peer.pc;
  pc.addEventListener('connectionstatechange', () => {
    if (state.peer !== peer) return; // an old connection closing after a resume
    els.callPanel.dataset.connection = pc.connectionState;
    const texts = {
      connecting: 'Connecting the video…',
      connected: `Video connected with ${name}.`,
      disconnected: 'Video interrupted; waiting for it to recover…',
      failed: 'The video connection failed.',
    };
    if (texts[pc.connectionState]) els.callStatus.textContent = texts[pc.connectionState];
    // The network changed under a live call: an ICE restart keeps it.
    if (pc.connectionState === 'failed') resumeMedia();
  });
  els.callStatus.textContent = 'Connecting the video…';
  send({ type: 'offer', sdp: peer.sdp }, 'offer');
}

/** Reconnected, but the hub did not resume the session: it ended while we were away. */
function sessionNotResumed() {
  if (!state.session) return;
  endCall();
  deskStatus(
    'Reconnected, but the session could not be resumed: it was closed while you were away. See the case for its outcome.',
    'warn',
    'connected',
  );
  loadCases();
}

/**
 * After a reload in a session the page has no memory of it: show as done what the hub's
 * checklist says is satisfied (never downgrading what the page itself saw).
 */
function restoreFromChecklist() {
  const session = state.session;
  if (!session || !session.restored) return;
  for (const { item, satisfied_by: seq } of state.checklist) {
    if (seq == null) continue;
    const i = item.indexOf(':');
    const type = i < 0 ? item : item.slice(0, i);
    const rest = i < 0 ? '' : item.slice(i + 1);
    if (type === 'consent' && consentState(rest).state === 'none') {
      setConsent(rest, { state: 'granted', seq });
    } else if (type === 'liveness' && state.liveness === 'none') {
      setLiveness('passed', `Liveness passed (evidence #${seq}).`, 'ok');
    } else if (type === 'declaration' && declarationState(rest).state === 'none') {
      setDeclaration(rest, { state: 'confirmed', seq });
    } else if (type === 'identity' && !els.idStatus.dataset.state) {
      setStatus(els.idStatus, `Identity check recorded (evidence #${seq}).`, 'ok');
      els.idStatus.dataset.state = 'recorded';
      els.idStatus.dataset.seq = String(seq);
    } else if (type === 'document' || type === 'still') {
      const out =
        type === 'document'
          ? els.docList.querySelector(`[data-testid="doc-status"][data-document="${CSS.escape(rest)}"]`)
          : els.stillStatus;
      if (out && !out.dataset.state) {
        setStatus(out, `Already added (evidence #${seq}).`, 'ok');
        out.dataset.state = 'uploaded';
        out.dataset.seq = String(seq);
      }
    }
  }
}

/** An ICE restart on the live connection; false if there is none to restart. */
async function resumeMedia() {
  if (!state.peer || !state.peer.resumable()) return false;
  const sent = await offerAgain(() => state.peer, (peer) => peer.restartIce(), (sdp) => send({ type: 'offer', sdp }, 'offer'));
  return sent.ok;
}

/** Someone joined or left: a new offer on the same connection, with room for everyone. */
async function onRenegotiate(msg) {
  const receive = Number(msg.receive) || 1;
  const { error } = await offerAgain(() => state.peer, (peer) => peer.renegotiate(receive), (sdp) => send({ type: 'offer', sdp }, 'offer'));
  if (error) els.callStatus.textContent = `Could not add the new participant's video: ${error.message}`;
}

/** Invite a guest in the chosen role; the hub answers with their link. */
function inviteGuest(ev) {
  ev.preventDefault();
  if (!state.session) return;
  const role = els.guestRole.value;
  const name = els.guestName.value.trim();
  send({ type: 'invite_guest', role, name }, { what: 'invite_guest' });
}

/** The link for a guest just invited, with a button to copy it. */
function onGuestInvite(msg) {
  const expires = new Date(msg.expires_at);
  const when = Number.isNaN(expires.getTime()) ? msg.expires_at : expires.toLocaleString();
  const name = els.guestName.value.trim() || guestRoleLabel(msg.participant);
  els.guestName.value = '';
  const link = h('input', { type: 'text', readOnly: true, value: msg.link, class: 'guest-link' });
  link.setAttribute('aria-label', t('guestLink', { name, role: guestRoleLabel(msg.participant), expires: when }));
  const copy = h('button', { type: 'button', class: 'btn secondary small' }, t('guestCopy'));
  const status = h('span', { class: 'small muted', role: 'status' });
  copy.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(msg.link);
    } catch {
      link.select();
    }
    status.textContent = t('guestCopied');
  });
  els.guestLinks.append(
    h(
      'li',
      { dataset: { testid: 'guest-link', participant: msg.participant } },
      h('p', {}, t('guestLink', { name, role: guestRoleLabel(msg.participant), expires: when })),
      link,
      copy,
      status,
    ),
  );
}

async function onAnswer(msg) {
  if (!state.peer) return;
  try {
    await state.peer.acceptAnswer(msg.sdp);
  } catch (err) {
    els.callStatus.textContent = `The hub's answer was refused by the browser: ${err.message}`;
  }
}

function resetCallControls() {
  els.recordingIndicator.hidden = true;
  els.callPanel.dataset.recording = 'false';
  state.consents.clear();
  state.awaitingConsent = [];
  state.declarations.clear();
  state.lastDeclaration = null;
  state.tools = null;
  state.toolsFromCatalogue = false;
  els.idForm.reset();
  els.idAttestation.value = DEFAULT_ATTESTATION;
  updateIdFields();
  setStatus(els.idStatus, '');
  delete els.idStatus.dataset.state;
  delete els.idStatus.dataset.code;
  els.idSubmit.disabled = false;
  setLiveness('none');
  els.stillCanvas.hidden = true;
  setStatus(els.stillStatus, '');
  delete els.stillStatus.dataset.state;
  els.captureStill.disabled = false;
  els.consentList.replaceChildren();
  els.docList.replaceChildren();
  els.declarationList.replaceChildren();
  els.closeSession.disabled = false;
  els.enableSound.hidden = true;
}

// ---------------------------------------------------------------- what the service needs

function emptyTools() {
  return { consents: [], identity: [], liveness: false, stills: [], documents: [], declarations: [] };
}

/** The requirements named by the checklist items, when the catalogue is not at hand. */
function toolsFromItems(items) {
  const t = emptyTools();
  for (const { item } of items) {
    const i = item.indexOf(':');
    const type = i < 0 ? item : item.slice(0, i);
    const rest = i < 0 ? '' : item.slice(i + 1);
    if (type === 'consent') t.consents.push(rest);
    else if (type === 'identity') t.identity.push(rest.split('|'));
    else if (type === 'liveness') t.liveness = true;
    else if (type === 'still') t.stills.push(rest);
    else if (type === 'document') t.documents.push(rest);
    else if (type === 'declaration') t.declarations.push(rest);
  }
  return t;
}

function catalogueChecklist(service) {
  const entry = state.services && state.services.list.find((s) => s.code === service);
  if (!entry || !entry.checklist) return null;
  return { ...emptyTools(), ...entry.checklist };
}

/**
 * Build the consent, document and declaration controls from the service's checklist
 * (GET /api/services). The service comes from the queue entry or, failing that, the case.
 * Until it is known, the checklist items the hub already sent stand in for it.
 */
async function setupTools() {
  const session = state.session;
  if (session.service) {
    applyTools(catalogueChecklist(session.service), true);
  }
  if (!state.toolsFromCatalogue) {
    if (state.checklist.length) applyTools(toolsFromItems(state.checklist), false);
    try {
      const detail = await fetchJson(`/api/cases/${encodeURIComponent(session.caseId)}`);
      if (state.session !== session) return;
      session.service = detail && detail.case ? detail.case.service : null;
      const tools = catalogueChecklist(session.service);
      if (tools) applyTools(tools, true);
    } catch (err) {
      if (state.session === session && !state.tools) {
        els.callStatus.textContent = `Could not load the case's checklist: ${err.message}`;
      }
    }
  }
}

function applyTools(tools, fromCatalogue) {
  if (!tools) return;
  const same = state.tools && JSON.stringify(state.tools) === JSON.stringify(tools);
  state.toolsFromCatalogue = state.toolsFromCatalogue || fromCatalogue;
  if (same) return;
  state.tools = tools;
  els.callPanel.dataset.service = (state.session && state.session.service) || '';
  renderConsentRows();
  renderIdNeeds();
  renderStillKinds();
  renderDocumentRows();
  renderDeclarationRows();
  restoreFromChecklist();
  if (!tools.liveness) {
    if (state.liveness === 'none') {
      setStatus(els.livenessStatus, "This service's checklist does not require a liveness check.");
    }
  } else if (state.liveness === 'none') {
    setStatus(els.livenessStatus, '');
  }
}

// ---------------------------------------------------------------- consents

const CONSENT_STATE_TEXT = {
  none: 'Not requested yet.',
  requesting: 'Asking the applicant…',
  requested: 'Shown to the applicant; waiting for the answer.',
  granted: 'Granted',
  refused: 'Refused. You may ask again.',
  withdrawn: 'Withdrawn by the applicant.',
  error: 'Could not be requested',
};

function consentState(consent) {
  return state.consents.get(consent) || { state: 'none' };
}

function setConsent(consent, next) {
  state.consents.set(consent, { ...consentState(consent), ...next });
  updateConsentRow(consent);
}

function renderConsentRows() {
  const list = (state.tools && state.tools.consents) || [];
  els.consentList.replaceChildren(
    ...list.map((consent) => {
      const button = h(
        'button',
        { type: 'button', class: 'btn secondary small', dataset: { testid: 'consent-request', consent } },
        'Request',
      );
      button.addEventListener('click', () => requestConsent(consent));
      return h(
        'li',
        { class: 'tool-row', dataset: { testid: 'consent-row', consent } },
        h('span', { class: 'tool-name' }, consentLabel(consent)),
        h('span', { class: 'tool-state', role: 'status', dataset: { testid: 'consent-state', consent } }),
        button,
      );
    }),
  );
  for (const consent of list) updateConsentRow(consent);
}

function updateConsentRow(consent) {
  const row = els.consentList.querySelector(`li[data-consent="${CSS.escape(consent)}"]`);
  if (!row) return;
  const s = consentState(consent);
  row.dataset.state = s.state;
  const out = row.querySelector('.tool-state');
  let text = CONSENT_STATE_TEXT[s.state] || s.state;
  if (s.state === 'granted' && s.seq != null) text = `✔ Granted (evidence #${s.seq})`;
  else if (s.state === 'refused') text = `✘ Refused${s.seq != null ? ` (evidence #${s.seq})` : ''}. You may ask again.`;
  else if (s.state === 'withdrawn') {
    text = `✘ Withdrawn by the applicant${s.seq != null ? ` (evidence #${s.seq})` : ''}` +
      (consent === 'recording' ? '; recording stopped for good.' : '.');
  } else if (s.state === 'error') text = `Could not be requested: ${s.text}`;
  out.textContent = text;
  out.className = 'tool-state' + ({ granted: ' ok', refused: ' bad', withdrawn: ' bad', error: ' bad' }[s.state] || '');
  const button = row.querySelector('button');
  const finalRecording = consent === 'recording' && s.state === 'withdrawn';
  // A request still unanswered may be shown again (the applicant's page keeps one copy).
  button.disabled = ['requesting', 'granted'].includes(s.state) || finalRecording;
  button.textContent = ['requested', 'refused', 'withdrawn', 'error'].includes(s.state) ? 'Ask again' : 'Request';
}

function requestConsent(consent) {
  setConsent(consent, { state: 'requesting', text: '' });
  send({ type: 'request_consent', consent }, { what: 'request_consent', consent });
}

/** The consent whose checklist item this event satisfied (the checklist precedes the ack). */
function consentSatisfiedBy(seq) {
  const hit = state.checklist.find((i) => i.item.startsWith('consent:') && i.satisfied_by === seq);
  return hit ? hit.item.slice('consent:'.length) : null;
}

function dropAwaiting(consent) {
  state.awaitingConsent = state.awaitingConsent.filter((c) => c !== consent);
}

function onConsentAck(event, msg, pending) {
  if (event === 'consent_requested') {
    const consent = pending && pending.consent;
    if (!consent) return;
    dropAwaiting(consent);
    state.awaitingConsent.push(consent);
    setConsent(consent, { state: 'requested', seq: msg.seq });
  } else if (event === 'consent_granted') {
    const consent = consentSatisfiedBy(msg.seq) || state.awaitingConsent[0];
    if (!consent) return;
    dropAwaiting(consent);
    setConsent(consent, { state: 'granted', seq: msg.seq });
  } else if (event === 'consent_refused') {
    // Refusals do not move the checklist; the applicant's page answers requests in order.
    const consent = state.awaitingConsent[0];
    if (!consent) return;
    dropAwaiting(consent);
    setConsent(consent, { state: 'refused', seq: msg.seq });
  } else if (event === 'consent_withdrawn') {
    const lost = state.lostItems.find((i) => i.startsWith('consent:'));
    const consent = lost
      ? lost.slice('consent:'.length)
      : [...state.consents.keys()].find((c) => consentState(c).state === 'granted' && !state.checklist.some(
          (i) => i.item === `consent:${c}` && i.satisfied_by != null,
        ));
    if (!consent) {
      els.callStatus.textContent = 'The applicant withdrew a consent.';
      return;
    }
    setConsent(consent, { state: 'withdrawn', seq: msg.seq });
    els.callStatus.textContent = `The applicant withdrew: ${consentLabel(consent).toLowerCase()}.`;
  }
}

// ---------------------------------------------------------------- identity check

const ID_NEEDS = {
  passport: 'Passport: copy the two lines of the machine-readable zone (TD3, 44 characters each). ' +
    'The hub checks every check digit and the expiry date.',
  'id-card-resident': 'Chinese resident identity card: the 18-digit number (15-digit numbers are upgraded), ' +
    'and the expiry date or long-term. The hub checks the check character, birth date and region.',
  'id-card-td1': 'Foreign identity card: copy the three lines of the machine-readable zone (TD1, 30 characters each).',
  'driving-licence': "Driving licence: the licence number (the holder's resident ID number), the validity " +
    'start and the expiry date or long-term.',
};

function idUsesMrz() {
  const type = els.idDocType.value;
  return type === 'passport' || (type === 'id-card' && els.idCardMode.value === 'td1');
}

/** Show the fields the chosen document type needs. */
function updateIdFields() {
  const type = els.idDocType.value;
  const mrz = idUsesMrz();
  els.idCardModeBox.hidden = type !== 'id-card';
  els.idMrzBox.hidden = !mrz;
  els.idMrz.rows = type === 'passport' ? 2 : 3;
  els.idNumberBox.hidden = mrz;
  els.idDatesBox.hidden = mrz;
  els.idValidFromBox.hidden = type !== 'driving-licence';
  els.idNumberLabel.textContent =
    type === 'driving-licence' ? "Licence number (the holder's resident ID number)" : 'Resident ID number';
  els.idValidUntil.disabled = els.idLongTerm.checked;
  els.idForm.dataset.fields = mrz ? 'mrz' : type === 'driving-licence' ? 'licence' : 'number';
  renderIdNeeds();
  updateMrzHint();
}

function renderIdNeeds() {
  const type = els.idDocType.value;
  const key = type === 'id-card' ? `id-card-${els.idCardMode.value}` : type;
  let text = ID_NEEDS[key] || '';
  const reqs = (state.tools && state.tools.identity) || [];
  if (reqs.length) {
    text += ` This service needs: ${reqs.map((alts) => alts.map(documentTypeLabel).join(' or ')).join('; and ')}.`;
  }
  els.idNeeds.textContent = text;
}

/**
 * The MRZ as typed, upper case, without spaces or empty lines. A zone pasted as one line
 * (88 characters for TD3, 90 for TD1) is split into its lines.
 */
function mrzLines() {
  const lines = els.idMrz.value
    .toUpperCase()
    .split(/\r?\n/)
    .map((l) => l.replace(/\s+/g, ''))
    .filter(Boolean);
  if (lines.length === 1) {
    const [l] = lines;
    if (l.length === 88) return [l.slice(0, 44), l.slice(44)];
    if (l.length === 90) return [l.slice(0, 30), l.slice(30, 60), l.slice(60)];
  }
  return lines;
}

function updateMrzHint() {
  const passport = els.idDocType.value === 'passport';
  const want = passport ? { lines: 2, len: 44, name: 'TD3' } : { lines: 3, len: 30, name: 'TD1' };
  const lines = mrzLines();
  const lengths = lines.length ? ` Now: ${lines.map((l) => l.length).join(' · ')}.` : '';
  els.idMrzHint.textContent = `${want.lines} lines of ${want.len} characters (${want.name}); use < for fillers.${lengths}`;
}

function idError(text, field) {
  setStatus(els.idStatus, text, 'error');
  els.idStatus.dataset.state = 'invalid';
  if (field) field.focus();
}

function submitIdentity(ev) {
  ev.preventDefault();
  const type = els.idDocType.value;
  const attestation = els.idAttestation.value.trim();
  const msg = { type: 'identity_check', document_type: type };
  if (idUsesMrz()) {
    const lines = mrzLines();
    if (!lines.length) return idError('Enter the machine-readable zone.', els.idMrz);
    msg.mrz = lines.join('\n');
  } else {
    const number = els.idNumber.value.replace(/\s+/g, '').toUpperCase();
    if (!number) return idError('Enter the document number.', els.idNumber);
    msg.number = number;
    if (type === 'driving-licence' && els.idValidFrom.value) msg.valid_from = els.idValidFrom.value;
    if (els.idLongTerm.checked) msg.long_term = true;
    else if (els.idValidUntil.value) msg.valid_until = els.idValidUntil.value;
  }
  if (!attestation) return idError('Enter the attestation.', els.idAttestation);
  msg.attestation = attestation;
  msg.outcome = els.idOutcome.value;
  els.idSubmit.disabled = true;
  setStatus(els.idStatus, 'Checking the document and recording…');
  els.idStatus.dataset.state = 'pending';
  delete els.idStatus.dataset.code;
  send(msg, { what: 'identity_check', documentType: type });
}

// ---------------------------------------------------------------- liveness

function setLiveness(next, text = '', kind = '') {
  state.liveness = next;
  els.livenessStatus.dataset.state = next;
  setStatus(els.livenessStatus, text, kind);
  const busy = next === 'requesting' || next === 'attesting';
  const waiting = next === 'prompted' || next === 'responded';
  els.livenessPrompt.disabled = busy || waiting;
  els.livenessPrompt.textContent = ['passed', 'failed', 'error'].includes(next) ? 'New liveness prompt' : 'Liveness prompt';
  els.livenessPassed.hidden = next !== 'responded';
  els.livenessFailed.hidden = !waiting;
  els.livenessPassed.disabled = busy;
  els.livenessFailed.disabled = busy;
}

function livenessPrompt() {
  setLiveness('requesting', 'Asking the hub for a prompt…');
  send({ type: 'liveness_prompt' }, { what: 'liveness_prompt' });
}

function livenessResult(passed) {
  setLiveness('attesting', 'Recording your attestation…');
  send({ type: 'liveness_result', passed }, { what: 'liveness_result', passed });
}

function onLivenessAck(event, msg, pending) {
  if (event === 'liveness_prompted') {
    setLiveness(
      'prompted',
      `A random gesture is shown to the applicant (evidence #${msg.seq}). Watch the video; waiting for them to say done…`,
    );
  } else if (event === 'liveness_responded') {
    const asked = state.livenessText ? ` (“${state.livenessText}”)` : '';
    setLiveness(
      'responded',
      `The applicant says done (evidence #${msg.seq}). Did they perform the gesture${asked} live on camera?`,
      'warn',
    );
  } else if (event === 'liveness_attested') {
    const passed = pending && pending.what === 'liveness_result' ? pending.passed : state.liveness !== 'failed';
    setLiveness(
      passed ? 'passed' : 'failed',
      passed ? `Liveness passed (evidence #${msg.seq}).` : `Liveness failed (evidence #${msg.seq}). You may prompt again.`,
      passed ? 'ok' : 'error',
    );
  }
}

// ---------------------------------------------------------------- still and documents

function renderStillKinds() {
  const kinds = (state.tools && state.tools.stills) || [];
  const list = kinds.length ? kinds : ['identity-document'];
  els.stillKind.replaceChildren(...list.map((k) => h('option', { value: k }, kindLabel(k))));
  els.stillKind.hidden = list.length < 2;
}

/** POST a file to the session; resolves to the hub's `{file, sha256, size, seq, hash}`. */
function uploadToSession(category, kind, body, type) {
  const id = encodeURIComponent(state.session.id);
  const q = `category=${encodeURIComponent(category)}&kind=${encodeURIComponent(kind)}`;
  return fetchJson(`/api/sessions/${id}/documents?${q}`, {
    method: 'POST',
    body,
    headers: { 'Content-Type': type },
  });
}

const UPLOAD_ERROR_PREFIX = {
  413: 'Too large',
  415: 'Type not accepted',
  400: 'Refused',
  409: 'Not added',
};

function uploadErrorText(err) {
  const prefix = UPLOAD_ERROR_PREFIX[err.status] || 'Upload failed';
  return `${prefix}: ${err.message}${err.code ? ` [${err.code}]` : ''}`;
}

function showUploaded(el, res, what) {
  setStatus(
    el,
    `${what} added (evidence #${res.seq}): SHA-256 ${res.sha256}, ${sizeText(res.size)}, stored as ${res.file}.`,
    'ok',
  );
  el.dataset.state = 'uploaded';
  el.dataset.seq = String(res.seq);
  el.dataset.sha256 = res.sha256 || '';
  delete el.dataset.code;
}

function showUploadError(el, err) {
  setStatus(el, uploadErrorText(err), 'error');
  el.dataset.state = 'error';
  el.dataset.code = err.code || '';
  el.dataset.status = String(err.status || '');
}

async function captureStill() {
  const video = els.remoteVideo;
  if (!state.session) return;
  if (!video.videoWidth || !video.videoHeight) {
    setStatus(els.stillStatus, "There is no picture from the applicant's camera yet.", 'error');
    els.stillStatus.dataset.state = 'error';
    return;
  }
  const kind = els.stillKind.value || 'identity-document';
  const canvas = els.stillCanvas;
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  canvas.getContext('2d').drawImage(video, 0, 0, canvas.width, canvas.height);
  canvas.hidden = false;
  els.captureStill.disabled = true;
  setStatus(els.stillStatus, `Uploading the still (${canvas.width}×${canvas.height})…`);
  els.stillStatus.dataset.state = 'pending';
  try {
    const blob = await new Promise((resolve) => canvas.toBlob(resolve, 'image/jpeg', 0.9));
    if (!blob) throw new Error('the browser could not encode the frame as JPEG');
    const res = await uploadToSession('still', kind, blob, 'image/jpeg');
    showUploaded(els.stillStatus, res, `Still of the ${kindLabel(kind).toLowerCase()}`);
  } catch (err) {
    showUploadError(els.stillStatus, err);
  } finally {
    els.captureStill.disabled = false;
  }
}

/** The declared type: the browser's, else from the extension (the hub checks the content). */
function fileType(file) {
  if (file.type) return file.type;
  const ext = (file.name.split('.').pop() || '').toLowerCase();
  return { pdf: 'application/pdf', jpg: 'image/jpeg', jpeg: 'image/jpeg', png: 'image/png' }[ext] || 'application/octet-stream';
}

function renderDocumentRows() {
  const kinds = (state.tools && state.tools.documents) || [];
  els.docsEmpty.hidden = kinds.length > 0;
  els.docList.replaceChildren(
    ...kinds.map((kind) => {
      const inputId = `doc-file-${kind}`;
      const input = h('input', {
        type: 'file',
        id: inputId,
        accept: '.pdf,.jpg,.jpeg,.png,application/pdf,image/jpeg,image/png',
        dataset: { testid: 'doc-file', document: kind },
      });
      const button = h(
        'button',
        { type: 'button', class: 'btn secondary small', disabled: true, dataset: { testid: 'doc-upload', document: kind } },
        'Upload',
      );
      const out = h('p', { class: 'status', role: 'status', 'aria-live': 'polite', dataset: { testid: 'doc-status', document: kind } });
      input.addEventListener('change', () => {
        button.disabled = !input.files || input.files.length === 0;
        setStatus(out, '');
        delete out.dataset.state;
      });
      button.addEventListener('click', () => uploadDocument(kind, input, button, out));
      return h(
        'li',
        { class: 'tool-row doc-row', dataset: { testid: 'doc-row', document: kind } },
        h('label', { for: inputId, class: 'tool-name' }, kindLabel(kind)),
        input,
        button,
        out,
      );
    }),
  );
}

async function uploadDocument(kind, input, button, out) {
  const file = input.files && input.files[0];
  if (!file || !state.session) return;
  if (file.size > MAX_UPLOAD_BYTES) {
    showUploadError(out, {
      status: 413,
      code: 'too_large',
      message: `the file is ${sizeText(file.size)}; the limit is ${sizeText(MAX_UPLOAD_BYTES)}`,
    });
    return;
  }
  button.disabled = true;
  setStatus(out, `Uploading ${file.name} (${sizeText(file.size)})…`);
  out.dataset.state = 'pending';
  try {
    const res = await uploadToSession('document', kind, file, fileType(file));
    showUploaded(out, res, `${kindLabel(kind)} (${file.name})`);
    input.value = '';
  } catch (err) {
    showUploadError(out, err);
    button.disabled = false;
  }
}

// ---------------------------------------------------------------- declarations

function declarationState(d) {
  return state.declarations.get(d) || { state: 'none' };
}

function renderDeclarationRows() {
  const list = (state.tools && state.tools.declarations) || [];
  els.declarationsEmpty.hidden = list.length > 0;
  els.declarationList.replaceChildren(
    ...list.map((declaration) => {
      const button = h(
        'button',
        { type: 'button', class: 'btn secondary small', dataset: { testid: 'declaration-request', declaration } },
        'Request',
      );
      button.addEventListener('click', () => requestDeclaration(declaration));
      return h(
        'li',
        { class: 'tool-row', dataset: { testid: 'declaration-row', declaration } },
        h('span', { class: 'tool-name' }, declarationLabel(declaration)),
        h('span', { class: 'tool-state', role: 'status', dataset: { testid: 'declaration-status', declaration } }),
        button,
      );
    }),
  );
  for (const d of list) updateDeclarationRow(d);
}

function updateDeclarationRow(declaration) {
  const row = els.declarationList.querySelector(`li[data-declaration="${CSS.escape(declaration)}"]`);
  if (!row) return;
  const s = declarationState(declaration);
  row.dataset.state = s.state;
  const out = row.querySelector('.tool-state');
  out.dataset.state = s.state;
  out.textContent = {
    none: 'Not requested yet.',
    requesting: 'Showing it to the applicant…',
    requested: `Shown to the applicant (evidence #${s.seq}); waiting for them to read it aloud and confirm.`,
    confirmed: `✔ Confirmed by the applicant (evidence #${s.seq}).`,
    error: `Could not be requested: ${s.text}`,
  }[s.state] || s.state;
  out.className = 'tool-state' + ({ confirmed: ' ok', error: ' bad' }[s.state] || '');
  const button = row.querySelector('button');
  button.disabled = ['requesting', 'requested', 'confirmed'].includes(s.state);
  button.textContent = s.state === 'error' ? 'Ask again' : 'Request';
}

function setDeclaration(declaration, next) {
  state.declarations.set(declaration, { ...declarationState(declaration), ...next });
  updateDeclarationRow(declaration);
}

function requestDeclaration(declaration) {
  // The hub keeps one declaration pending at a time: a new request replaces the old one.
  for (const [d, s] of state.declarations) {
    if (d !== declaration && s.state === 'requested') setDeclaration(d, { state: 'none' });
  }
  setDeclaration(declaration, { state: 'requesting' });
  send({ type: 'request_declaration', declaration }, { what: 'request_declaration', declaration });
}

function onDeclarationAck(event, msg, pending) {
  if (event === 'declaration_requested') {
    const d = pending && pending.declaration;
    if (!d) return;
    state.lastDeclaration = d;
    setDeclaration(d, { state: 'requested', seq: msg.seq });
  } else if (event === 'declaration_confirmed') {
    const hit = state.checklist.find((i) => i.item.startsWith('declaration:') && i.satisfied_by === msg.seq);
    const d = hit ? hit.item.slice('declaration:'.length) : state.lastDeclaration;
    if (!d) return;
    state.lastDeclaration = null;
    setDeclaration(d, { state: 'confirmed', seq: msg.seq });
  }
}

// ---------------------------------------------------------------- checklist

function onChecklist(msg) {
  const items = Array.isArray(msg.items) ? msg.items.filter((i) => i && typeof i.item === 'string') : [];
  const before = new Map(state.checklist.map((i) => [i.item, i.satisfied_by]));
  state.lostItems = items.filter((i) => i.satisfied_by == null && before.get(i.item) != null).map((i) => i.item);
  state.checklist = items;
  renderChecklist();
  restoreFromChecklist();
  if (state.session && !state.tools && items.length) applyTools(toolsFromItems(items), false);
}

function renderChecklist() {
  const items = state.checklist;
  els.checklistPanel.hidden = items.length === 0 && !state.session;
  els.checklistEmpty.hidden = items.length > 0;
  els.checklist.replaceChildren(
    ...items.map((i) => {
      const ok = i.satisfied_by != null;
      return h(
        'li',
        { dataset: { testid: 'checklist-item', item: i.item, satisfied: String(ok), seq: ok ? String(i.satisfied_by) : '' } },
        h('span', { class: 'mark ' + (ok ? 'ok' : 'bad'), 'aria-hidden': 'true' }, ok ? '✔' : '✘'),
        h('span', { class: 'visually-hidden' }, ok ? 'done: ' : 'missing: '),
        itemLabel(i.item),
        h('span', { class: 'muted small' }, ok ? ` — evidence #${i.satisfied_by}` : ' — missing'),
      );
    }),
  );
  const done = items.filter((i) => i.satisfied_by != null).length;
  els.checklistSummary.textContent = items.length ? `${done}/${items.length}` : '';
  els.checklistSummary.className = 'badge' + (items.length && done === items.length ? ' ok' : '');
  els.checklist.dataset.complete = String(items.length > 0 && done === items.length);
  els.checklist.dataset.done = String(done);
  els.checklist.dataset.total = String(items.length);
}

// ---------------------------------------------------------------- acks, errors, close

function closeSession() {
  const missing = state.checklist.filter((i) => i.satisfied_by == null).length;
  els.closeSession.disabled = true;
  els.callStatus.textContent = missing
    ? `Closing and sealing the session (${missing} checklist item${missing === 1 ? '' : 's'} missing: it will close as incomplete or refused)…`
    : 'Closing and sealing the session…';
  send({ type: 'close_session' }, 'close_session');
}

/** Every committed evidence event, whoever caused it. */
function onAck(msg) {
  const pending = msg.ref != null ? state.pending.get(msg.ref) : undefined;
  const event = msg.event || '';
  if (event) {
    els.evidenceEmpty.hidden = true;
    els.evidenceLog.append(
      h(
        'li',
        { dataset: { testid: 'evidence-entry', event, seq: String(msg.seq) }, title: msg.hash || '' },
        `#${msg.seq} ${event} ${shortHash(msg.hash)}`,
      ),
    );
    els.evidenceLog.scrollTop = els.evidenceLog.scrollHeight;
  }
  if (event === 'participant_admitted' || event === 'participant_denied') {
    const name = (pending && pending.name) || (state.knock && state.knock.name) || '';
    const role = (pending && pending.role) || (state.knock && state.knock.role) || 'applicant';
    clearKnock(event === 'participant_admitted' ? 'lobbyAdmittedNote' : 'lobbyDeniedNote', { name });
    if (role === 'applicant') {
      els.callPanel.dataset.lobby = event === 'participant_admitted' ? 'admitted' : 'denied';
      updateInert();
    }
    const next = state.knocks.shift();
    if (next) onKnock(next);
  }
  if (event === 'identity_check_recorded' || (pending && pending.what === 'identity_check')) {
    const type = (pending && pending.documentType) || els.idDocType.value;
    setStatus(
      els.idStatus,
      `Identity check recorded: ${documentTypeLabel(type)}, face ${els.idOutcome.value} (evidence #${msg.seq}).`,
      'ok',
    );
    els.idStatus.dataset.state = 'recorded';
    els.idStatus.dataset.seq = String(msg.seq);
    els.idSubmit.disabled = false;
    els.idNumber.value = '';
    els.idMrz.value = '';
    updateMrzHint();
  }
  if (event.startsWith('consent_')) onConsentAck(event, msg, pending);
  else if (event.startsWith('liveness_')) onLivenessAck(event, msg, pending);
  else if (event.startsWith('declaration_')) onDeclarationAck(event, msg, pending);
}

function onRecording(msg) {
  const active = !!msg.active;
  els.recordingIndicator.hidden = !active;
  els.callPanel.dataset.recording = String(active);
}

function onPeerState(msg) {
  if (msg.role === 'officer') return;
  if (msg.role !== 'applicant') {
    // A guest: gone from the lobby before an answer, or news from the call.
    state.knocks = state.knocks.filter((k) => k.role !== msg.role);
    if (msg.state === 'left' && state.knock && state.knock.role === msg.role) {
      clearKnock();
      const next = state.knocks.shift();
      if (next) onKnock(next);
    }
    const p = state.participants.find((x) => x.role === msg.role) || { role: msg.role, name: '' };
    const texts = { joined: 'joined the call', left: 'left the call', reconnecting: 'is reconnecting', rejoined: 'is back' };
    if (texts[msg.state]) els.callStatus.textContent = `${participantLabel(p)} ${texts[msg.state]}.`;
    return;
  }
  // Gone from the lobby before an answer: nobody left to admit.
  if (msg.state === 'left' && state.knock) {
    clearKnock();
    delete els.callPanel.dataset.lobby;
    updateInert();
  }
  const name = (state.session && state.session.peer && state.session.peer.name) || 'The applicant';
  const texts = {
    joined: `${name} joined the call.`,
    connected: `${name} is connected.`,
    media_connected: `${name}'s camera and microphone are connected to the hub.`,
    left: `${name} left the call.`,
    disconnected: `${name} lost the connection.`,
    reconnecting: `${name}'s connection dropped; waiting for them to return…`,
    rejoined: `${name} is back (rejoined); their video is reconnecting.`,
  };
  const text = texts[msg.state] || `${name}: ${msg.state}`;
  els.callStatus.textContent = text;
  // Kept on screen (the call status changes with the video): dropped, back, or gone.
  if (['reconnecting', 'rejoined', 'left', 'disconnected'].includes(msg.state)) {
    clearTimeout(state.peerNoticeTimer);
    const el = els.peerNotice;
    const kind = { reconnecting: 'warn', rejoined: 'ok' }[msg.state] || 'error';
    setStatus(el, msg.state === 'left' && el.dataset.state === 'reconnecting'
      ? `${name} did not come back in time and has left the call.`
      : text, kind);
    el.dataset.state = msg.state;
    el.dataset.history = `${el.dataset.history || ''} ${msg.state}`.trim().split(' ').slice(-10).join(' ');
    el.hidden = false;
    if (msg.state === 'rejoined') {
      state.peerNoticeTimer = setTimeout(() => {
        el.hidden = true;
      }, 8000);
    }
  }
}

function onSessionClosed(msg) {
  endCall();
  const outcome = msg.outcome || '';
  els.sessionOutcome.textContent = outcome ? `Outcome: ${OUTCOME_LABELS[outcome] || outcome}.` : '';
  els.sessionOutcome.dataset.outcome = outcome;
  els.sessionReason.textContent = msg.reason ? `Reason: ${msg.reason}.` : '';
  els.sessionArtefact.textContent = msg.artefact_id || '';
  els.sessionManifest.textContent = msg.manifest_sha256 || '';
  els.sessionResultSealed.hidden = !msg.artefact_id;
  els.sessionResult.dataset.artefactId = msg.artefact_id || '';
  els.sessionResult.dataset.outcome = outcome;
  const kind = { completed: 'ok', refused: 'error' }[outcome] || 'warn';
  els.sessionResult.classList.toggle('is-ok', kind === 'ok');
  els.sessionResult.classList.toggle('is-error', kind === 'error');
  els.sessionResult.classList.toggle('is-warn', kind === 'warn');
  els.sessionResult.hidden = false;
  loadCases();
  // The sealed record waits for the officer's signature: open it, and refresh the list.
  if (msg.artefact_id) openReview(msg.artefact_id);
  loadPending();
}

function onError(msg) {
  // Another window took over: the link stops and onDeskStopped says so.
  if (msg.code === 'moved') return;
  const pending = msg.ref != null ? state.pending.get(msg.ref) : undefined;
  if (msg.ref != null) state.pending.delete(msg.ref);
  const what = pending ? pending.what : undefined;
  const text = `${msg.message || msg.code}${msg.code ? ` [${msg.code}]` : ''}`;
  if (msg.code) {
    els.evidenceLog.append(h('li', { class: 'is-error', dataset: { testid: 'evidence-error' } }, `error: ${text}`));
  }
  switch (what) {
    case 'admit':
    case 'deny':
      // Nobody waiting any more (they left), or the step was not recorded: say so.
      if (state.knock) {
        els.admit.disabled = false;
        els.deny.disabled = false;
      }
      els.callStatus.textContent = text;
      break;
    case 'identity_check':
      setStatus(els.idStatus, `Not recorded — ${text}`, 'error');
      els.idStatus.dataset.state = 'error';
      els.idStatus.dataset.code = msg.code || '';
      els.idSubmit.disabled = false;
      break;
    case 'request_consent':
      dropAwaiting(pending.consent);
      setConsent(pending.consent, { state: 'error', text });
      break;
    case 'liveness_prompt':
    case 'liveness_result':
      setLiveness('error', `Liveness: ${text}`, 'error');
      break;
    case 'request_declaration':
      setDeclaration(pending.declaration, { state: 'error', text });
      break;
    case 'close_session':
      els.callStatus.textContent = `Could not close the session: ${text}`;
      els.closeSession.disabled = false;
      break;
    case 'take_next':
      deskStatus(`Could not take the next applicant: ${text}`, 'error');
      if (!state.session) {
        stopStream(state.localStream);
        state.localStream = null;
      }
      updateTakeNext();
      break;
    case 'offer':
      els.callStatus.textContent = `The hub refused the video offer: ${text}`;
      break;
    default:
      deskStatus(`Hub error: ${text}`, 'error');
  }
}

/** Tear down the media of the current session (the queue panel comes back). */
/** A number from the hub, or null: the message is data, never trusted to be well formed. */
function num(v) {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

function kbpsText(bps) {
  const n = num(bps);
  return n == null ? '–' : t('statsKbps', { n: Math.round(n / 1000) });
}

function percentText(fraction) {
  const n = num(fraction);
  return n == null ? '–' : `${(n * 100).toFixed(1)} %`;
}

/** `call_stats`: one table row per participant and media kind (docs/protocol.md). */
function onCallStats(msg) {
  const rows = [];
  const participants = Array.isArray(msg.participants) ? msg.participants : [];
  for (const p of participants) {
    if (!p || (p.role !== 'officer' && p.role !== 'applicant')) continue;
    const media = Array.isArray(p.media) ? p.media.filter((m) => m && (m.kind === 'audio' || m.kind === 'video')) : [];
    const rtt = num(p.rtt_ms);
    const path = p.relayed === true ? 'relayed' : 'direct';
    media.forEach((m, i) => {
      rows.push(
        h(
          'tr',
          { dataset: { testid: 'stats-row', role: p.role, kind: m.kind, path } },
          i === 0 ? h('th', { scope: 'row', rowspan: media.length }, t(`statsRole_${p.role}`)) : null,
          h('td', {}, t(`statsKind_${m.kind}`)),
          h('td', { dataset: { testid: 'stats-up' } }, kbpsText(m.up_bps)),
          h('td', {}, kbpsText(m.down_bps)),
          h('td', {}, `${percentText(m.up_loss)} / ${percentText(m.down_loss)}`),
          h('td', {}, rtt == null ? '–' : t('statsMs', { n: rtt })),
          h('td', { dataset: { testid: 'stats-codec' } }, typeof m.codec === 'string' ? m.codec : '–'),
          h('td', { class: path === 'relayed' ? 'is-warn' : '' }, t(`statsPath_${path}`)),
        ),
      );
    });
  }
  els.statsBody.replaceChildren(...rows);
  els.statsPanel.hidden = rows.length === 0;
}

function endCall() {
  state.pairGen += 1;
  clearTimeout(state.resumeTimer);
  clearTimeout(state.peerNoticeTimer);
  els.peerNotice.hidden = true;
  delete els.peerNotice.dataset.state;
  delete els.peerNotice.dataset.history;
  setLinkBlocked(false);
  if (state.peer) {
    state.peer.close();
    state.peer = null;
  }
  stopStream(state.localStream);
  state.localStream = null;
  els.remoteVideo.srcObject = null;
  els.localVideo.srcObject = null;
  state.knocks = [];
  state.participants = [];
  pruneParticipantTiles(els.participantTiles, [], participantLabel);
  els.guestLinks.replaceChildren();
  state.session = null;
  state.pending.clear();
  els.callPanel.hidden = true;
  els.statsPanel.hidden = true;
  els.statsBody.replaceChildren();
  els.recordingIndicator.hidden = true;
  els.queuePanel.hidden = false;
  renderChecklist();
  updateTakeNext();
  tick();
}

// ---------------------------------------------------------------- officer signature
// The officer signs each artefact's manifest in this browser with an ECDSA P-256 key made by
// WebCrypto. The private key is non-extractable and lives in IndexedDB as a CryptoKey (structured
// clone keeps it usable but unreadable): the hub only sees the public key, at enrolment, and
// certifies it. The signature is a detached JWS over `protected "." payload`, where `payload` is
// the hub's base64url of the exact manifest.json bytes, never re-encoded here.

const KEY_DB = 'globallink-officer';
const KEY_DB_VERSION = 1;
const KEY_STORE = 'keys';
const ECDSA_P256 = { name: 'ECDSA', namedCurve: 'P-256' };
const ECDSA_SHA256 = { name: 'ECDSA', hash: 'SHA-256' };
/** Domain separation of the proof of possession (src/seal/officer_pki.rs). */
const ENROL_CONTEXT = 'globallink-enrol-v1\n';
const utf8 = new TextEncoder();

/** WebCrypto (secure contexts only) and IndexedDB are both needed to hold a key. */
function keyStorageAvailable() {
  return !!(globalThis.crypto && globalThis.crypto.subtle && globalThis.indexedDB);
}

/** An API or browser error in words, with the hub's code when it sent one. */
function errorText(err) {
  if (!err) return '';
  const text = err.message || err.name || String(err);
  return err instanceof ApiError && err.code ? `${text} [${err.code}]` : text;
}

/** Resolve with an IDBRequest's result. */
function idbResult(req) {
  return new Promise((resolve, reject) => {
    req.addEventListener('success', () => resolve(req.result));
    req.addEventListener('error', () => reject(req.error));
  });
}

function openKeyDb() {
  const req = indexedDB.open(KEY_DB, KEY_DB_VERSION);
  req.addEventListener('upgradeneeded', () => {
    const db = req.result;
    if (!db.objectStoreNames.contains(KEY_STORE)) db.createObjectStore(KEY_STORE, { keyPath: 'officer_id' });
  });
  return idbResult(req);
}

/** The officer's stored `{officer_id, key_pair, x5c, serial, not_after}`, or null. */
async function readKeyRecord(officerId) {
  const db = await openKeyDb();
  try {
    const tx = db.transaction(KEY_STORE, 'readonly');
    return (await idbResult(tx.objectStore(KEY_STORE).get(officerId))) || null;
  } finally {
    db.close();
  }
}

/** Store a record (replacing the officer's previous one); resolves once it is committed. */
async function writeKeyRecord(record) {
  const db = await openKeyDb();
  try {
    const tx = db.transaction(KEY_STORE, 'readwrite', { durability: 'strict' });
    const done = new Promise((resolve, reject) => {
      tx.addEventListener('complete', () => resolve());
      tx.addEventListener('error', () => reject(tx.error));
      tx.addEventListener('abort', () => reject(tx.error || new Error('the key store transaction was aborted')));
    });
    tx.objectStore(KEY_STORE).put(record);
    await done;
  } finally {
    db.close();
  }
}

/** A serial number to compare: hex digits only, lower case, no leading zeros. */
const serialKey = (serial) =>
  String(serial || '')
    .toLowerCase()
    .replace(/[^0-9a-f]/g, '')
    .replace(/^0+(?=.)/, '');

/** A stored record that can sign: a private key and the certificate chain for the header. */
function usableRecord(r) {
  return !!(
    r &&
    r.key_pair &&
    r.key_pair.privateKey &&
    Array.isArray(r.x5c) &&
    r.x5c.length > 0 &&
    r.x5c.every((c) => typeof c === 'string')
  );
}

/**
 * Where the officer's key stands: `unavailable` (no WebCrypto or IndexedDB), `loading`, `none`
 * (no certificate), `here` (a valid certificate whose key is in this browser), `elsewhere` (a
 * valid certificate whose key is not here), `revoked`, `expired`, or `error` (the hub could not
 * be asked).
 */
function keyPhase(now = new Date()) {
  const k = state.key;
  if (!keyStorageAvailable()) return 'unavailable';
  if (!k.loaded) return 'loading';
  if (k.certError) return 'error';
  const cert = k.cert;
  if (!cert) return 'none';
  if (cert.status === 'revoked') return 'revoked';
  if (cert.status === 'expired' || new Date(cert.not_after) <= now) return 'expired';
  if (usableRecord(k.record) && serialKey(k.record.serial) === serialKey(cert.serial)) return 'here';
  return 'elsewhere';
}

/** This browser can sign now; when the hub could not be asked, an unexpired stored key may try (the hub judges). */
function canSign() {
  const phase = keyPhase();
  if (phase === 'here') return true;
  const r = state.key.record;
  return phase === 'error' && usableRecord(r) && new Date(r.not_after) > new Date();
}

/** Read the stored key and ask the hub for the certificate (404: none). */
async function loadKey() {
  const gen = ++state.keyGen;
  state.key = { loaded: false, record: null, cert: null, certError: null, storeError: null };
  renderKey();
  if (!keyStorageAvailable() || !state.me) return;
  const next = { loaded: true, record: null, cert: null, certError: null, storeError: null };
  await Promise.all([
    readKeyRecord(state.me.id).then(
      (r) => {
        next.record = r;
      },
      (err) => {
        next.storeError = err;
      },
    ),
    fetchJson('/api/officers/me/certificate').then(
      (c) => {
        if (c && typeof c === 'object' && typeof c.serial === 'string') next.cert = c;
        else next.certError = new Error(t('sigBadAnswer'));
      },
      (err) => {
        if (err.status !== 404) next.certError = err;
      },
    ),
  ]);
  if (gen !== state.keyGen) return;
  state.key = next;
  renderKey();
}

function renderKey() {
  const phase = keyPhase();
  const k = state.key;
  const cert = k.cert || {};
  const vars = { serial: cert.serial || '', until: formatInstant(cert.not_after, 'en-GB', OFFICE_TZ) };
  const [key, kind] = {
    unavailable: ['sigKeyUnavailable', 'error'],
    loading: ['sigKeyLoading', ''],
    none: ['sigKeyNone', 'warn'],
    here: ['sigKeyHere', 'ok'],
    elsewhere: ['sigKeyElsewhere', 'warn'],
    revoked: ['sigKeyRevoked', 'error'],
    expired: ['sigKeyExpired', 'error'],
    error: ['sigKeyCheckFailed', 'error'],
  }[phase];
  let text = t(key, phase === 'error' ? { error: errorText(k.certError) } : vars);
  if (k.storeError) text += ` ${t('sigKeyReadFailed', { error: errorText(k.storeError) })}`;
  setStatus(els.keyStatus, text, kind);
  els.keyStatus.dataset.state = phase;
  els.keyStatus.dataset.serial = cert.serial || '';
  els.keyPanel.dataset.state = phase;
  const offer =
    ['none', 'elsewhere', 'revoked', 'expired'].includes(phase) || (phase === 'error' && !usableRecord(k.record));
  els.keyEnrol.hidden = !offer && !state.enrolling;
  els.keyEnrol.disabled = state.enrolling;
  els.keyCheck.hidden = phase !== 'error' || state.enrolling;
  renderReviewActions();
}

/** Bytes of several parts, one after the other. */
function concatBytes(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function enrolProgress(key, vars = {}, kind = '', stateName = 'enrolling') {
  setStatus(els.keyProgress, t(key, vars), kind);
  els.keyProgress.dataset.state = stateName;
}

/**
 * Enrol this browser: a challenge from the hub, a fresh non-extractable P-256 key, the proof of
 * possession over `"globallink-enrol-v1\n" officer_id "\n" challenge`, the certificate back, and
 * the key and certificate stored together in IndexedDB.
 */
async function enrol() {
  if (state.enrolling || !keyStorageAvailable()) return;
  state.enrolling = true;
  const button = els.keyEnrol;
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  setI18n(button, 'sigEnrolling');
  els.keyCheck.hidden = true;
  try {
    enrolProgress('sigEnrolChallenge');
    const challenge = await fetchJson('/api/officers/me/enrolment/challenge', { method: 'POST', json: {} });
    if (!challenge || typeof challenge.challenge !== 'string' || typeof challenge.officer_id !== 'string') {
      throw new Error(t('sigBadAnswer'));
    }
    const nonce = base64urlDecode(challenge.challenge);
    enrolProgress('sigEnrolKey');
    const keyPair = await crypto.subtle.generateKey(ECDSA_P256, false, ['sign', 'verify']);
    const spki = await crypto.subtle.exportKey('spki', keyPair.publicKey);
    const message = concatBytes(utf8.encode(`${ENROL_CONTEXT}${challenge.officer_id}\n`), nonce);
    const proof = await crypto.subtle.sign(ECDSA_SHA256, keyPair.privateKey, message);
    enrolProgress('sigEnrolSend');
    const cert = await fetchJson('/api/officers/me/enrolment', {
      method: 'POST',
      json: { challenge: challenge.challenge, public_key: base64urlEncode(spki), signature: base64urlEncode(proof) },
    });
    if (!cert || typeof cert.serial !== 'string' || !Array.isArray(cert.x5c) || cert.x5c.length === 0) {
      throw new Error(t('sigBadAnswer'));
    }
    enrolProgress('sigEnrolSave');
    const record = {
      officer_id: challenge.officer_id,
      key_pair: keyPair,
      x5c: cert.x5c,
      serial: cert.serial,
      not_after: cert.not_after,
    };
    try {
      await writeKeyRecord(record);
    } catch (err) {
      enrolProgress('sigEnrolNotSaved', { serial: cert.serial, error: errorText(err) }, 'error', 'error');
      return;
    }
    state.keyGen += 1; // a check still under way must not overwrite this
    state.key = {
      loaded: true,
      record,
      cert: { ...cert, status: 'valid' },
      certError: null,
      storeError: null,
    };
    enrolProgress(
      'sigEnrolDone',
      { serial: cert.serial, until: formatInstant(cert.not_after, 'en-GB', OFFICE_TZ) },
      'ok',
      'enrolled',
    );
  } catch (err) {
    enrolProgress('sigEnrolFailed', { error: errorText(err) }, 'error', 'error');
    els.keyProgress.dataset.code = (err instanceof ApiError && err.code) || '';
  } finally {
    state.enrolling = false;
    button.removeAttribute('aria-busy');
    setI18n(button, 'sigEnrol');
    renderKey();
    if (els.keyProgress.dataset.state === 'enrolled') {
      // The button is gone: go on to the record waiting to be signed, if one is open.
      if (!els.reviewForm.hidden) els.reviewConfirm.focus();
      else els.keyHeading.focus();
    }
  }
}

// ---- records awaiting the officer's signature

async function loadPending() {
  const gen = ++state.pendingGen;
  els.pendingList.setAttribute('aria-busy', 'true');
  try {
    const list = await fetchJson('/api/officers/me/signatures/pending');
    if (gen !== state.pendingGen) return;
    state.pendingSignatures = Array.isArray(list) ? list.filter((p) => p && typeof p.artefact_id === 'string') : [];
    state.pendingError = null;
    setStatus(els.pendingStatus, '');
  } catch (err) {
    if (gen !== state.pendingGen) return;
    state.pendingError = err;
    setStatus(els.pendingStatus, t('sigPendingLoadFailed', { error: errorText(err) }), 'error');
  }
  els.pendingList.removeAttribute('aria-busy');
  renderPending();
}

function renderPending() {
  const list = state.pendingSignatures.filter((p) => !state.signedArtefacts.has(p.artefact_id));
  const openId = state.review && state.review.id;
  els.pendingList.replaceChildren(
    ...list.map((p) => {
      const service = serviceLabel(state.services, p.service);
      const sealed = formatInstant(p.sealed_at, 'en-GB', OFFICE_TZ);
      const outcome = OUTCOME_LABELS[p.outcome] || p.outcome || '';
      const button = h(
        'button',
        {
          type: 'button',
          class: 'btn small',
          'aria-label': t('sigReviewAndSignFor', { service, sealed }),
          dataset: { testid: 'pending-review', artefactId: p.artefact_id },
        },
        t('sigReviewAndSign'),
      );
      button.addEventListener('click', () => openReview(p.artefact_id));
      return h(
        'li',
        {
          class: `tool-row pending-row${p.artefact_id === openId ? ' is-open' : ''}`,
          dataset: {
            testid: 'pending-item',
            artefactId: p.artefact_id,
            sessionId: p.session_id || '',
            caseId: p.case_id || '',
            outcome: p.outcome || '',
          },
        },
        h(
          'p',
          { class: 'pending-text' },
          t('sigPendingItem', { service, outcome, sealed }),
          h('br'),
          h('span', { class: 'small muted mono break' }, t('sigPendingCase', { id: p.case_id || '' })),
        ),
        button,
      );
    }),
  );
  els.pendingCount.textContent = String(list.length);
  els.pendingList.dataset.count = String(list.length);
  els.pendingEmpty.hidden = list.length > 0 || !!state.pendingError;
}

// ---- review and sign one record

/** JSON with every object's keys sorted, to compare two parsed documents. */
function sortedJson(value) {
  return JSON.stringify(value, (_k, v) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, v[k]]))
      : v,
  );
}

/**
 * The manifest about to be signed, read from the very bytes that will be signed (`payload`), so
 * what the officer reviews cannot differ from what they sign; the hub's `manifest` object and
 * the artefact id must agree with it.
 */
function manifestToSign(data, artefactId) {
  if (!data || typeof data.payload !== 'string' || !/^[A-Za-z0-9_-]+$/.test(data.payload)) {
    throw new Error(t('sigBadAnswer'));
  }
  let manifest;
  try {
    manifest = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(base64urlDecode(data.payload)));
  } catch {
    throw new Error(t('sigBadAnswer'));
  }
  if (!manifest || typeof manifest !== 'object' || Array.isArray(manifest)) throw new Error(t('sigBadAnswer'));
  const same = (a, b) => String(a || '').toLowerCase() === String(b || '').toLowerCase();
  const agrees =
    same(manifest.artefact_id, artefactId) &&
    (data.artefact_id === undefined || same(data.artefact_id, artefactId)) &&
    (data.manifest === undefined || sortedJson(data.manifest) === sortedJson(manifest));
  if (!agrees) throw Object.assign(new Error(t('sigReviewMismatch')), { mismatch: true });
  return manifest;
}

/** Open the review of an artefact: load what is to be signed and show it. */
async function openReview(artefactId, { focus = true } = {}) {
  const gen = ++state.reviewGen;
  state.review = { id: artefactId, data: null, manifest: null, signed: null };
  els.reviewPanel.dataset.artefactId = artefactId;
  els.reviewPanel.dataset.state = 'loading';
  els.reviewPanel.hidden = false;
  els.reviewSummary.replaceChildren();
  els.reviewConfirm.checked = false;
  setStatus(els.reviewResult, '');
  delete els.reviewResult.dataset.state;
  delete els.reviewResult.dataset.signedAt;
  delete els.reviewResult.dataset.code;
  setStatus(els.reviewStatus, t('sigReviewLoading'));
  renderReviewActions();
  renderPending();
  if (focus) els.reviewHeading.focus();
  let data;
  let manifest;
  try {
    data = await fetchJson(`/api/artefacts/${encodeURIComponent(artefactId)}/signing`);
    manifest = manifestToSign(data, artefactId);
  } catch (err) {
    if (gen !== state.reviewGen) return;
    const text = err.mismatch ? err.message : t('sigReviewLoadFailed', { error: errorText(err) });
    setStatus(els.reviewStatus, text, 'error');
    els.reviewStatus.dataset.code = (err instanceof ApiError && err.code) || '';
    els.reviewPanel.dataset.state = 'error';
    renderReviewActions();
    return;
  }
  if (gen !== state.reviewGen) return;
  state.review.data = data;
  state.review.manifest = manifest;
  setStatus(els.reviewStatus, '');
  delete els.reviewStatus.dataset.code;
  els.reviewPanel.dataset.state = 'ready';
  renderReviewSummary(manifest);
  renderReviewActions();
}

function closeReview({ focus = true } = {}) {
  state.reviewGen += 1;
  const id = state.review && state.review.id;
  state.review = null;
  els.reviewPanel.hidden = true;
  els.reviewPanel.dataset.state = 'closed';
  delete els.reviewPanel.dataset.artefactId;
  els.reviewSummary.replaceChildren();
  renderPending();
  if (!focus) return;
  // Back to that record's button if it is still listed, else to the list.
  const back = id && els.pendingList.querySelector(`button[data-artefact-id="${CSS.escape(id)}"]`);
  (back || els.pendingHeading).focus();
}

const roleLabel = (role) => {
  const key = `sigRole_${role}`;
  const text = t(key);
  return text === key ? slugLabel(role) : text;
};

/** "Sat 28 Nov 2026, 17:05:03 (UTC+08:00)" in `tz`. */
function zonedInstantText(iso, tz) {
  const d = new Date(iso);
  if (!iso || Number.isNaN(d.getTime())) return iso ? String(iso) : '—';
  const text = formatIn(d, tz, 'en-GB', {
    weekday: 'short',
    day: '2-digit',
    month: 'short',
    year: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  });
  return `${text} (${utcOffsetText(d, tz)})`;
}

function renderReviewSummary(m) {
  const c = m.case || {};
  const s = m.session || {};
  const chain = m.chain || {};
  const participants = (Array.isArray(m.participants) ? m.participants : []).filter((p) => p && typeof p === 'object');
  const checklist = (Array.isArray(m.checklist) ? m.checklist : []).filter((i) => i && typeof i.item === 'string');
  const files = (Array.isArray(m.files) ? m.files : []).filter((f) => f && typeof f === 'object');
  const outcome = typeof s.outcome === 'string' ? s.outcome : '';

  const facts = h('dl', { class: 'summary-list', dataset: { testid: 'review-facts' } });
  const fact = (key, value, testid, cls = '') =>
    facts.append(h('dt', {}, t(key)), h('dd', { class: cls, dataset: { testid } }, value));
  fact('sigSumCase', String(c.id || ''), 'review-case', 'mono break');
  fact('sigSumService', serviceLabel(state.services, c.service), 'review-service');
  fact('sigSumOutcome', OUTCOME_LABELS[outcome] || outcome, 'review-outcome');
  facts.lastChild.dataset.outcome = outcome;
  if (s.reason) fact('sigSumReason', String(s.reason), 'review-reason');
  fact('sigSumSession', String(s.id || ''), 'review-session', 'mono break');
  fact('sigSumSealed', zonedInstantText(m.sealed_at, OFFICE_TZ), 'review-sealed');
  fact('sigSumArtefact', String(m.artefact_id || ''), 'review-artefact', 'mono break');
  const chainText = t('sigChainText', { events: chain.events ?? '', head: chain.head || '' });
  fact('sigSumChain', chainText, 'review-chain', 'break');
  facts.lastChild.dataset.events = String(chain.events ?? '');
  facts.lastChild.dataset.head = String(chain.head || '');

  // Start and end in Beijing, then in each participant's zone.
  const zones = new Map([[OFFICE_TZ, []]]);
  for (const p of participants) {
    if (!zoneOk(p.tz)) continue;
    if (!zones.has(p.tz)) zones.set(p.tz, []);
    zones.get(p.tz).push(roleLabel(p.role));
  }
  const times = h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { dataset: { testid: 'review-times' } },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          h('th', { scope: 'col' }, t('sigZone')),
          h('th', { scope: 'col' }, t('sigStart')),
          h('th', { scope: 'col' }, t('sigEnd')),
        ),
      ),
      h(
        'tbody',
        {},
        [...zones].map(([tz, roles]) =>
          h(
            'tr',
            { dataset: { testid: 'review-time', zone: tz } },
            h(
              'th',
              { scope: 'row', title: tz },
              tz === OFFICE_TZ
                ? t('sigZoneOffice', { city: cityOfZone(tz) })
                : t('sigZoneOf', { city: cityOfZone(tz), roles: roles.join(', ') }),
            ),
            h('td', { dataset: { part: 'start' } }, zonedInstantText(s.started_at, tz)),
            h('td', { dataset: { part: 'end' } }, zonedInstantText(s.ended_at, tz)),
          ),
        ),
      ),
    ),
  );

  const none = () => h('p', { class: 'muted small' }, t('sigNone'));
  const people = participants.length
    ? h(
        'ul',
        { class: 'tool-list', dataset: { testid: 'review-participants' } },
        participants.map((p) =>
          h(
            'li',
            { dataset: { testid: 'review-participant', role: String(p.role || ''), tz: String(p.tz || '') } },
            t('sigParticipant', {
              role: roleLabel(p.role),
              city: zoneOk(p.tz) ? cityOfZone(p.tz) : String(p.tz || ''),
              tz: String(p.tz || ''),
            }),
          ),
        ),
      )
    : none();

  const done = checklist.filter((i) => i.satisfied_by != null).length;
  const items = checklist.length
    ? h(
        'ul',
        { class: 'checks', dataset: { testid: 'review-checklist' } },
        checklist.map((i) => {
          const ok = i.satisfied_by != null;
          const how = ok ? t('sigItemDone', { seq: i.satisfied_by }) : t('sigItemMissing');
          return h(
            'li',
            { dataset: { testid: 'review-checklist-item', item: i.item, satisfied: String(ok) } },
            h('span', { class: 'mark ' + (ok ? 'ok' : 'bad'), 'aria-hidden': 'true' }, ok ? '✔' : '✘'),
            itemLabel(i.item),
            h('span', { class: 'muted small' }, ` — ${how}`),
          );
        }),
      )
    : none();

  const fileTable = files.length
    ? h(
        'div',
        { class: 'table-wrap' },
        h(
          'table',
          { dataset: { testid: 'review-files' } },
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              h('th', { scope: 'col' }, t('sigFilePath')),
              h('th', { scope: 'col' }, t('sigFileSize')),
              h('th', { scope: 'col' }, t('sigFileHash')),
            ),
          ),
          h(
            'tbody',
            {},
            files.map((f) => {
              const sha = typeof f.sha256 === 'string' ? f.sha256 : '';
              const path = String(f.path || '');
              return h(
                'tr',
                { dataset: { testid: 'review-file', path, sha256: sha, size: String(f.size ?? '') } },
                h('td', { class: 'mono break' }, path),
                h('td', {}, sizeText(f.size)),
                h('td', { class: 'mono', title: sha }, sha.slice(0, 16)),
              );
            }),
          ),
        ),
      )
    : none();

  els.reviewSummary.replaceChildren(
    facts,
    h('h4', {}, t('sigTimesHeading')),
    times,
    h('h4', {}, t('sigParticipantsHeading')),
    people,
    h(
      'h4',
      {},
      `${t('sigChecklistHeading')} `,
      checklist.length
        ? h(
            'span',
            {
              class: 'badge' + (done === checklist.length ? ' ok' : ' bad'),
              dataset: { testid: 'review-checklist-summary' },
            },
            t('sigChecklistSummary', { done, total: checklist.length }),
          )
        : null,
    ),
    items,
    h('h4', {}, t('sigFilesHeading')),
    fileTable,
  );
}

/** The Sign form when this browser can sign the loaded record, else the prompt to enrol first. */
function renderReviewActions() {
  const r = state.review;
  const ready = !!(r && r.manifest) && !r.signed;
  const phase = keyPhase();
  const can = canSign();
  els.reviewForm.hidden = !(ready && can);
  els.reviewNeedKey.hidden = !ready || can || phase === 'loading';
  setI18n(els.reviewNeedKeyText, phase === 'unavailable' ? 'sigKeyUnavailable' : 'sigNeedEnrol');
  els.reviewConfirm.disabled = state.signing;
  els.reviewSign.disabled = state.signing;
  els.reviewPanel.dataset.canSign = String(can);
}

/**
 * Sign the record under review: protected header `{"alg":"ES256","typ":"JOSE","x5c":…}`,
 * signing input `protected "." payload` (payload exactly as the hub sent it).
 */
async function signReview(ev) {
  ev.preventDefault();
  const r = state.review;
  if (!r || !r.manifest || r.signed || state.signing) return;
  if (!els.reviewConfirm.checked) {
    setStatus(els.reviewResult, t('sigConfirmFirst'), 'error');
    els.reviewResult.dataset.state = 'unconfirmed';
    els.reviewConfirm.focus();
    return;
  }
  if (!canSign()) {
    renderReviewActions();
    return;
  }
  const record = state.key.record;
  state.signing = true;
  els.reviewPanel.dataset.state = 'signing';
  els.reviewSign.setAttribute('aria-busy', 'true');
  setI18n(els.reviewSign, 'sigSigning');
  renderReviewActions();
  setStatus(els.reviewResult, t('sigSigning'));
  els.reviewResult.dataset.state = 'signing';
  delete els.reviewResult.dataset.code;
  let refreshKey = false;
  try {
    const header = { alg: 'ES256', typ: 'JOSE', x5c: record.x5c };
    const protectedB64 = base64urlEncode(utf8.encode(JSON.stringify(header)));
    const input = utf8.encode(`${protectedB64}.${r.data.payload}`);
    const signature = await crypto.subtle.sign(ECDSA_SHA256, record.key_pair.privateKey, input);
    const res = await fetchJson(`/api/artefacts/${encodeURIComponent(r.id)}/signature`, {
      method: 'POST',
      json: { protected: protectedB64, signature: base64urlEncode(signature) },
    });
    r.signed = res || {};
    state.signedArtefacts.add(r.id);
    if (r === state.review) showSigned(r.signed);
    loadPending();
  } catch (err) {
    if (r === state.review) {
      setStatus(els.reviewResult, t('sigSignFailed', { error: errorText(err) }), 'error');
      els.reviewResult.dataset.state = 'error';
      els.reviewResult.dataset.code = (err instanceof ApiError && err.code) || '';
    }
    // The hub refused the signature (a revoked or expired certificate…): check the key again.
    refreshKey = err instanceof ApiError && err.status >= 400 && err.status < 500;
  } finally {
    state.signing = false;
    els.reviewSign.removeAttribute('aria-busy');
    setI18n(els.reviewSign, 'sigSign');
    if (r === state.review) els.reviewPanel.dataset.state = r.signed ? 'signed' : 'ready';
    renderReviewActions();
    if (r === state.review && r.signed) els.reviewClose.focus();
  }
  if (refreshKey) loadKey();
}

function showSigned(res) {
  const at = res.officer_signed_at;
  let text = t('sigSigned', { time: formatInstant(at || new Date().toISOString(), 'en-GB', OFFICE_TZ) });
  const signer = res.signer;
  if (signer && signer.subject) {
    const vars = { subject: signer.subject, serial: signer.serial || '', issuer: signer.issuer || '' };
    text += ` ${t('sigSignedBy', vars)}`;
  }
  setStatus(els.reviewResult, text, 'ok');
  els.reviewResult.dataset.state = 'signed';
  els.reviewResult.dataset.signedAt = at || '';
}

/** Forget the key state, the list and the review (signed out). */
function resetSignatures() {
  state.keyGen += 1;
  state.pendingGen += 1;
  state.key = { loaded: false, record: null, cert: null, certError: null, storeError: null };
  state.pendingSignatures = [];
  state.pendingError = null;
  state.signedArtefacts.clear();
  setStatus(els.keyProgress, '');
  delete els.keyProgress.dataset.state;
  setStatus(els.pendingStatus, '');
  closeReview({ focus: false });
  renderKey();
}

// ---------------------------------------------------------------- start

function signedIn(me) {
  state.me = me;
  loadServiceOptions().then(() => {
    renderPending(); // service names, now that they are known
    return loadCases();
  });
  connectDesk();
  loadKey();
  loadPending();
}

function signedOut() {
  state.me = null;
  if (state.link) state.link.stop();
  state.link = null;
  endCall();
  els.inviteBox.hidden = true;
  els.caseDetail.hidden = true;
  state.selectedCase = null;
  state.bookings = [];
  renderBookings();
  els.bookingsEmpty.hidden = true;
  els.bookingsWaiting.textContent = 'Waiting for the desk…';
  els.bookingsWaiting.hidden = false;
  resetSignatures();
}

function main() {
  tick();
  setInterval(tick, 1000);
  els.caseForm.addEventListener('submit', createCase);
  els.caseTz.addEventListener('input', updateTzPreview);
  els.copyInvite.addEventListener('click', async () => {
    const ok = await copyText(els.inviteUrl.value, els.inviteUrl);
    els.copyStatus.textContent = ok ? 'Link copied.' : 'Copy failed: select the link and copy it by hand.';
  });
  els.casesRefresh.addEventListener('click', loadCases);
  els.takeNext.addEventListener('click', takeNext);
  els.admit.addEventListener('click', () => answerKnock(true));
  els.guestForm.addEventListener('submit', inviteGuest);
  els.deny.addEventListener('click', () => answerKnock(false));
  els.deskReconnect.addEventListener('click', connectDesk);
  els.idForm.addEventListener('submit', submitIdentity);
  els.idDocType.addEventListener('change', updateIdFields);
  els.idCardMode.addEventListener('change', updateIdFields);
  els.idLongTerm.addEventListener('change', updateIdFields);
  els.idMrz.addEventListener('input', updateMrzHint);
  els.livenessPrompt.addEventListener('click', livenessPrompt);
  els.livenessPassed.addEventListener('click', () => livenessResult(true));
  els.livenessFailed.addEventListener('click', () => livenessResult(false));
  els.captureStill.addEventListener('click', captureStill);
  els.closeSession.addEventListener('click', closeSession);
  els.enableSound.addEventListener('click', () => {
    if (state.resumeSound) state.resumeSound().catch(() => {});
    els.enableSound.hidden = true;
  });
  updateIdFields();
  applyTranslations(els.keyPanel);
  applyTranslations(els.signaturesPanel);
  applyTranslations(els.lobbyPanel);
  applyTranslations(els.statsPanel);
  els.keyEnrol.addEventListener('click', enrol);
  els.keyCheck.addEventListener('click', loadKey);
  els.pendingRefresh.addEventListener('click', loadPending);
  els.reviewForm.addEventListener('submit', signReview);
  els.reviewClose.addEventListener('click', () => closeReview());
  els.reviewPanel.addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape' && !state.signing) closeReview();
  });
  els.reviewGoEnrol.addEventListener('click', () => (els.keyEnrol.hidden ? els.keyHeading : els.keyEnrol).focus());
  renderKey();
  const auth = setupAuth({
    roles: ['officer'],
    wrongRoleText: (role) =>
      role === 'auditor'
        ? 'You are signed in as an auditor. The audit pages are at /audit; sign in here with an officer account.'
        : `The console is for officers (you are signed in as ${role}).`,
    onSignedIn: signedIn,
    onSignedOut: signedOut,
  });
  state.showLogin = auth.showLogin;
}

main();
