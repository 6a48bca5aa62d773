// Officer console: sign-in, clocks, new cases with invite links, the case list, and the live
// desk (queue → take next → video call → consent, identity check → close and seal).

import {
  $,
  OFFICE_TZ,
  cityOfZone,
  clockText,
  connectSignal,
  copyText,
  createPeer,
  durationText,
  fetchJson,
  formatInstant,
  h,
  isValidZone,
  openCamera,
  playStream,
  setStatus,
  shortHash,
  shortTimeText,
  stopStream,
} from './common.js';
import { setupAuth } from './auth.js';
import { LANGUAGE_NAMES, loadServices, renderCaseDetail, serviceLabel } from './cases.js';

const els = {
  clockBeijing: $('#clock-beijing'),
  clockApplicantBox: $('#clock-applicant-box'),
  clockApplicantCity: $('#clock-applicant-city'),
  clockApplicant: $('#clock-applicant'),
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
  remoteVideo: $('#remote-video'),
  localVideo: $('#local-video'),
  enableSound: $('#enable-sound'),
  recordingIndicator: $('#recording-indicator'),
  consentStatus: $('#consent-status'),
  requestConsent: $('#request-consent'),
  idForm: $('#id-form'),
  idDocType: $('#id-doc-type'),
  idDocNumber: $('#id-doc-number'),
  idAttestation: $('#id-attestation'),
  idOutcome: $('#id-outcome'),
  idStatus: $('#id-status'),
  idSubmit: $('#id-submit'),
  closeSession: $('#close-session'),
  sessionResult: $('#session-result'),
  sessionOutcome: $('#session-outcome'),
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
};

const DEFAULT_ATTESTATION = 'Face compared with the document held to the camera: match';

const state = {
  me: null,
  services: null,
  conn: null,
  connecting: false,
  queue: [],
  /** `{id, caseId, peer:{role,name,tz}}` while a session is open. */
  session: null,
  peer: null,
  localStream: null,
  /** frame id → what it was, to route `ack`/`error` with a `ref`. */
  pending: new Map(),
  resumeSound: null,
  selectedCase: null,
};

// ---------------------------------------------------------------- clocks

function tick() {
  const now = new Date();
  els.clockBeijing.textContent = clockText(now, OFFICE_TZ);
  els.clockBeijing.dateTime = now.toISOString();
  const tz = state.session && state.session.peer && state.session.peer.tz;
  if (tz && isValidZone(tz)) {
    els.clockApplicantBox.hidden = false;
    els.clockApplicantCity.textContent = `${cityOfZone(tz)} (${tz}) · applicant`;
    els.clockApplicant.textContent = clockText(now, tz);
    els.clockApplicant.dateTime = now.toISOString();
  } else {
    els.clockApplicantBox.hidden = true;
  }
  // Queue rows: applicant's local time and how long they have waited.
  for (const row of els.queueBody.querySelectorAll('tr')) {
    const local = row.querySelector('[data-col="local"]');
    const since = row.querySelector('[data-col="since"]');
    if (local && row.dataset.tz) local.textContent = applicantLocalText(row.dataset.tz, now);
    if (since && row.dataset.since) since.textContent = waitingText(row.dataset.since, now);
  }
}

function applicantLocalText(tz, now) {
  if (!isValidZone(tz)) return `unknown zone ${tz}`;
  return `${shortTimeText(now, tz)} · ${cityOfZone(tz)}`;
}

function waitingText(iso, now) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${shortTimeText(d, undefined)} (${durationText(now - d)})`;
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

async function connectDesk() {
  if (state.conn || state.connecting) return;
  state.connecting = true;
  els.deskReconnect.hidden = true;
  deskStatus('Connecting to the desk…', '', 'connecting');
  let ticket;
  try {
    ticket = (await fetchJson('/api/ws-ticket', { method: 'POST' })).ticket;
  } catch (err) {
    state.connecting = false;
    deskStatus(`Could not get a desk ticket: ${err.message}`, 'error', 'error');
    els.deskReconnect.hidden = false;
    return;
  }
  state.conn = connectSignal({
    onOpen: (conn) => conn.send({ type: 'auth', ticket }, { withId: false }),
    onMessage: handleMessage,
    onClose: (ev) => {
      state.conn = null;
      state.connecting = false;
      endCall();
      els.takeNext.disabled = true;
      if (!state.me) return; // signed out on purpose
      deskStatus(
        `Disconnected from the desk${ev.reason ? ` (${ev.reason})` : ''}. Reconnect to see the queue.`,
        'error',
        'disconnected',
      );
      els.deskReconnect.hidden = false;
    },
  });
}

function send(msg, what) {
  if (!state.conn) {
    deskStatus('Not connected to the desk.', 'error');
    return null;
  }
  const id = state.conn.send(msg);
  if (id != null && what) state.pending.set(id, what);
  return id;
}

function handleMessage(msg) {
  switch (msg.type) {
    case 'welcome':
      state.connecting = false;
      deskStatus(`Connected as ${msg.name || state.me.username}.`, 'ok', 'connected');
      updateTakeNext();
      break;
    case 'queue':
      state.queue = Array.isArray(msg.entries) ? msg.entries : [];
      renderQueue();
      break;
    case 'paired':
      onPaired(msg);
      break;
    case 'answer':
      onAnswer(msg);
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
    case 'session_closed':
      onSessionClosed(msg);
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
        h('td', { dataset: { col: 'local' } }, applicantLocalText(e.tz, now)),
        h('td', { dataset: { col: 'since' } }, waitingText(e.waiting_since, now)),
      ),
    );
  }
  els.queueCount.textContent = String(state.queue.length);
  els.queueEmpty.hidden = state.queue.length > 0;
  updateTakeNext();
}

function updateTakeNext() {
  els.takeNext.disabled = !state.conn || !!state.session || state.queue.length === 0;
}

/**
 * Take the next applicant. The camera is opened first, inside the click, so a permission
 * prompt never keeps an applicant who is already paired waiting.
 */
async function takeNext() {
  els.takeNext.disabled = true;
  // A new session's log starts here: the hub acks `session_opened` before it sends `paired`.
  els.evidenceLog.replaceChildren();
  els.evidenceEmpty.hidden = false;
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

async function onPaired(msg) {
  state.session = { id: msg.session_id, caseId: msg.case_id, peer: msg.peer || { role: 'applicant', name: '', tz: '' } };
  els.sessionResult.hidden = true;
  els.queuePanel.hidden = true;
  els.callPanel.hidden = false;
  els.callPanel.dataset.sessionId = msg.session_id || '';
  const p = state.session.peer;
  els.callTitle.textContent = `In session with ${p.name || 'the applicant'}`;
  els.callStatus.textContent = 'Starting the camera…';
  resetCallControls();
  tick();

  if (!state.localStream) {
    try {
      state.localStream = await openCamera();
    } catch (err) {
      els.callStatus.textContent = `Camera or microphone unavailable (${err.name || err.message}); the applicant will not see you.`;
      state.localStream = null;
    }
  }
  els.localVideo.srcObject = state.localStream;
  if (state.localStream) els.localVideo.play().catch(() => {});
  try {
    state.peer = await createPeer(state.localStream, (stream) =>
      playStream(els.remoteVideo, stream, (resume) => {
        state.resumeSound = resume;
        els.enableSound.hidden = false;
      }),
    );
  } catch (err) {
    els.callStatus.textContent = `Could not set up the video connection: ${err.message}`;
    return;
  }
  const pc = state.peer.pc;
  pc.addEventListener('connectionstatechange', () => {
    els.callPanel.dataset.connection = pc.connectionState;
    const texts = {
      connecting: 'Connecting the video…',
      connected: `Video connected with ${p.name || 'the applicant'}.`,
      disconnected: 'Video interrupted; waiting for it to recover…',
      failed: 'The video connection failed.',
    };
    if (texts[pc.connectionState]) els.callStatus.textContent = texts[pc.connectionState];
  });
  els.callStatus.textContent = 'Connecting the video…';
  send({ type: 'offer', sdp: state.peer.sdp }, 'offer');
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
  els.consentStatus.textContent = 'Not requested yet.';
  els.consentStatus.dataset.state = 'none';
  els.requestConsent.disabled = false;
  els.idForm.reset();
  els.idAttestation.value = DEFAULT_ATTESTATION;
  setStatus(els.idStatus, '');
  delete els.idStatus.dataset.state;
  els.idSubmit.disabled = false;
  els.closeSession.disabled = false;
  els.enableSound.hidden = true;
}

function requestConsent() {
  els.requestConsent.disabled = true;
  els.consentStatus.textContent = 'Asking the applicant…';
  els.consentStatus.dataset.state = 'requesting';
  send({ type: 'request_consent', consent: 'recording' }, 'request_consent');
}

function submitIdentity(ev) {
  ev.preventDefault();
  const number = els.idDocNumber.value.trim();
  if (!number) {
    setStatus(els.idStatus, 'Enter the document number.', 'error');
    els.idDocNumber.focus();
    return;
  }
  const attestation = els.idAttestation.value.trim();
  if (!attestation) {
    setStatus(els.idStatus, 'Enter the attestation.', 'error');
    els.idAttestation.focus();
    return;
  }
  els.idSubmit.disabled = true;
  setStatus(els.idStatus, 'Recording…');
  els.idStatus.dataset.state = 'pending';
  send(
    {
      type: 'identity_check',
      document_type: els.idDocType.value,
      document_number: number,
      attestation,
      outcome: els.idOutcome.value,
    },
    'identity_check',
  );
}

function closeSession() {
  els.closeSession.disabled = true;
  els.callStatus.textContent = 'Closing and sealing the session…';
  send({ type: 'close_session' }, 'close_session');
}

/** Every committed evidence event, whoever caused it. */
function onAck(msg) {
  const what = msg.ref != null ? state.pending.get(msg.ref) : undefined;
  if (msg.ref != null) state.pending.delete(msg.ref);
  if (msg.event) {
    els.evidenceEmpty.hidden = true;
    els.evidenceLog.append(
      h(
        'li',
        { dataset: { testid: 'evidence-entry', event: msg.event, seq: String(msg.seq) }, title: msg.hash || '' },
        `#${msg.seq} ${msg.event} ${shortHash(msg.hash)}`,
      ),
    );
    els.evidenceLog.scrollTop = els.evidenceLog.scrollHeight;
  }
  const event = msg.event || '';
  if (what === 'identity_check' || event.startsWith('identity_check')) {
    setStatus(els.idStatus, `Identity check recorded (evidence #${msg.seq}).`, 'ok');
    els.idStatus.dataset.state = 'recorded';
    els.idSubmit.disabled = false;
    els.idDocNumber.value = '';
  }
  if (event === 'consent_requested') {
    els.consentStatus.textContent = 'Requested; waiting for the applicant to answer.';
    els.consentStatus.dataset.state = 'requested';
  } else if (event === 'consent_granted') {
    els.consentStatus.textContent = 'The applicant consented to recording.';
    els.consentStatus.dataset.state = 'granted';
    els.requestConsent.disabled = true;
  } else if (event === 'consent_refused') {
    els.consentStatus.textContent = 'The applicant refused recording. You may ask again.';
    els.consentStatus.dataset.state = 'refused';
    els.requestConsent.disabled = false;
  }
}

function onRecording(msg) {
  const active = !!msg.active;
  els.recordingIndicator.hidden = !active;
  els.callPanel.dataset.recording = String(active);
}

function onPeerState(msg) {
  if (msg.role === 'officer') return;
  const name = (state.session && state.session.peer && state.session.peer.name) || 'The applicant';
  const texts = {
    joined: `${name} joined the call.`,
    connected: `${name} is connected.`,
    media_connected: `${name}'s camera and microphone are connected to the hub.`,
    left: `${name} left the call.`,
    disconnected: `${name} lost the connection.`,
  };
  els.callStatus.textContent = texts[msg.state] || `${name}: ${msg.state}`;
}

function onSessionClosed(msg) {
  endCall();
  els.sessionOutcome.textContent = msg.outcome ? `Outcome: ${msg.outcome}.` : '';
  els.sessionArtefact.textContent = msg.artefact_id || '';
  els.sessionManifest.textContent = msg.manifest_sha256 || '';
  els.sessionResultSealed.hidden = !msg.artefact_id;
  els.sessionResult.dataset.artefactId = msg.artefact_id || '';
  els.sessionResult.hidden = false;
  loadCases();
}

function onError(msg) {
  const what = msg.ref != null ? state.pending.get(msg.ref) : undefined;
  if (msg.ref != null) state.pending.delete(msg.ref);
  const text = `${msg.message || msg.code}${msg.code ? ` [${msg.code}]` : ''}`;
  if (msg.code) {
    els.evidenceLog.append(h('li', { class: 'is-error', dataset: { testid: 'evidence-error' } }, `error: ${text}`));
  }
  switch (what) {
    case 'identity_check':
      setStatus(els.idStatus, `Not recorded: ${text}`, 'error');
      els.idStatus.dataset.state = 'error';
      els.idSubmit.disabled = false;
      break;
    case 'request_consent':
      els.consentStatus.textContent = `Could not request consent: ${text}`;
      els.consentStatus.dataset.state = 'error';
      els.requestConsent.disabled = false;
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
function endCall() {
  if (state.peer) {
    state.peer.close();
    state.peer = null;
  }
  stopStream(state.localStream);
  state.localStream = null;
  els.remoteVideo.srcObject = null;
  els.localVideo.srcObject = null;
  state.session = null;
  state.pending.clear();
  els.callPanel.hidden = true;
  els.recordingIndicator.hidden = true;
  els.queuePanel.hidden = false;
  updateTakeNext();
  tick();
}

// ---------------------------------------------------------------- start

function signedIn(me) {
  state.me = me;
  loadServiceOptions().then(loadCases);
  connectDesk();
}

function signedOut() {
  state.me = null;
  if (state.conn) state.conn.close();
  state.conn = null;
  endCall();
  els.inviteBox.hidden = true;
  els.caseDetail.hidden = true;
  state.selectedCase = null;
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
  els.deskReconnect.addEventListener('click', connectDesk);
  els.requestConsent.addEventListener('click', requestConsent);
  els.idForm.addEventListener('submit', submitIdentity);
  els.closeSession.addEventListener('click', closeSession);
  els.enableSound.addEventListener('click', () => {
    if (state.resumeSound) state.resumeSound().catch(() => {});
    els.enableSound.hidden = true;
  });
  setupAuth({
    roles: ['officer'],
    wrongRoleText: (role) =>
      role === 'auditor'
        ? 'You are signed in as an auditor. The audit pages are at /audit; sign in here with an officer account.'
        : `The console is for officers (you are signed in as ${role}).`,
    onSignedIn: signedIn,
    onSignedOut: signedOut,
  });
}

main();
