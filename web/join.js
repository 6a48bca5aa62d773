// Applicant page (/join#t=TOKEN): device check → signalling auth with the invite → queue →
// video call with the hub → consents (with the "kept anyway" notice), liveness prompt,
// declaration read aloud, "My consents" (download, withdraw) → receipt. The token stays in the
// URL fragment, which the browser never sends to the server.
//
// Beside the walk-in queue: the desk's opening hours, the applicant's zone, hours and language
// ("My time and hours"), and booking a fixed time (slots in both zones, book, reschedule,
// cancel, .ics). Those are HTTP calls with `Authorization: Invite <token>`, never a URL.

import {
  $,
  ApiError,
  cityOfZone,
  createPeer,
  downloadBlob,
  downloadText,
  fetchJson,
  formatIn,
  h,
  isValidZone,
  keepSignal,
  mediaErrorKind,
  openCamera,
  playStream,
  offerAgain,
  pruneParticipantTiles,
  showParticipantTile,
  stopStream,
  utcOffsetText,
  viewerZone,
  OFFICE_TZ,
  setIceServers,
} from './common.js';
import {
  LANGUAGES,
  applyTranslations,
  currentLanguage,
  initialLanguage,
  serviceName,
  setI18n,
  setLanguage,
  t,
  MESSAGES,
} from './i18n.js';

const els = {
  langSelect: $('#lang-select'),
  officeTime: $('#office-time'),
  status: $('#status'),
  stepDevices: $('#step-devices'),
  preview: $('#preview'),
  micCheck: $('#mic-check'),
  micMeter: $('#mic-meter'),
  deviceResult: $('#device-result'),
  deviceStart: $('#device-start'),
  welcome: $('#welcome'),
  stepQueue: $('#step-queue'),
  greeting: $('#greeting'),
  serviceLine: $('#service-line'),
  queueIntro: $('#queue-intro'),
  queuePosition: $('#queue-position'),
  lobbyStatus: $('#lobby-status'),
  queueKeepOpen: $('#queue-keep-open'),
  joinQueue: $('#join-queue'),
  leaveQueue: $('#leave-queue'),
  stepCall: $('#step-call'),
  callStatus: $('#call-status'),
  peerNotice: $('#peer-notice'),
  linkStatus: $('#link-status'),
  consentLink: $('#consent-link'),
  remoteVideo: $('#remote-video'),
  participantTiles: $('#participant-tiles'),
  localVideo: $('#local-video'),
  recordingIndicator: $('#recording-indicator'),
  recordingStatus: $('#recording-status'),
  enableSound: $('#enable-sound'),
  consentReopen: $('#consent-reopen'),
  stepReceipt: $('#step-receipt'),
  receiptHeading: $('#h-receipt'),
  receiptIntro: $('#receipt-intro'),
  receiptRowArtefact: $('#receipt-row-artefact'),
  receiptRowHash: $('#receipt-row-hash'),
  receiptArtefact: $('#receipt-artefact'),
  receiptHash: $('#receipt-hash'),
  receiptSession: $('#receipt-session'),
  receiptOutcome: $('#receipt-outcome'),
  receiptClosed: $('#receipt-closed'),
  receiptSave: $('#receipt-save'),
  receiptSaved: $('#receipt-saved'),
  receiptRowReason: $('#receipt-row-reason'),
  receiptReason: $('#receipt-reason'),
  consentStatus: $('#consent-status'),
  consentDialog: $('#consent-dialog'),
  consentTitle: $('#consent-title'),
  consentProgress: $('#consent-progress'),
  consentNoticeBox: $('#consent-notice-box'),
  consentNotice: $('#consent-notice'),
  consentText: $('#consent-text'),
  consentLegalBasis: $('#consent-legal-basis'),
  consentRetention: $('#consent-retention'),
  consentRecipientRow: $('#consent-recipient-row'),
  consentRecipient: $('#consent-recipient'),
  consentAccept: $('#consent-accept'),
  consentDecline: $('#consent-decline'),
  livenessPanel: $('#liveness-panel'),
  livenessHeading: $('#h-liveness'),
  livenessText: $('#liveness-text'),
  livenessDone: $('#liveness-done'),
  livenessStatus: $('#liveness-status'),
  declarationPanel: $('#declaration-panel'),
  declarationHeading: $('#h-declaration'),
  declarationIntro: $('#declaration-intro'),
  declarationText: $('#declaration-text'),
  declarationConfirm: $('#declaration-confirm'),
  declarationStatus: $('#declaration-status'),
  myConsentsShow: $('#my-consents-show'),
  myConsentsDownload: $('#my-consents-download'),
  myConsentsStatus: $('#my-consents-status'),
  myConsentsList: $('#my-consents-list'),
  withdrawDialog: $('#withdraw-dialog'),
  withdrawQuestion: $('#withdraw-question'),
  withdrawEffect: $('#withdraw-effect'),
  withdrawConfirm: $('#withdraw-confirm'),
  withdrawCancel: $('#withdraw-cancel'),
  queueWait: $('#queue-wait'),
  deskStatus: $('#desk-status'),
  tzOffer: $('#tz-offer'),
  tzOfferText: $('#tz-offer-text'),
  tzOfferUse: $('#tz-offer-use'),
  tzOfferKeep: $('#tz-offer-keep'),
  booking: $('#booking'),
  bookingStatus: $('#booking-status'),
  bookingCurrent: $('#booking-current'),
  bookingCurrentHeading: $('#h-booking-current'),
  bookingWhen: $('#booking-when'),
  bookingWhenOffice: $('#booking-when-office'),
  bookingIcs: $('#booking-ics'),
  bookingReschedule: $('#booking-reschedule'),
  bookingCancel: $('#booking-cancel'),
  slotsBox: $('#slots-box'),
  slotsHeading: $('#slots-heading'),
  slotsNote: $('#slots-note'),
  slotList: $('#slot-list'),
  slotChoice: $('#slot-choice'),
  slotChoiceText: $('#slot-choice-text'),
  slotConfirm: $('#slot-confirm'),
  rescheduleKeep: $('#reschedule-keep'),
  prefs: $('#prefs'),
  prefsDetails: $('#prefs-details'),
  prefsSummary: $('#prefs-summary'),
  prefsForm: $('#prefs-form'),
  prefTz: $('#pref-tz'),
  tzOptions: $('#tz-options'),
  prefTzHint: $('#pref-tz-hint'),
  prefEarliest: $('#pref-earliest'),
  prefLatest: $('#pref-latest'),
  prefLang: $('#pref-lang'),
  prefStatus: $('#pref-status'),
  prefSave: $('#pref-save'),
  cancelDialog: $('#cancel-dialog'),
  cancelQuestion: $('#cancel-question'),
  cancelConfirm: $('#cancel-confirm'),
  cancelKeep: $('#cancel-keep'),
};

/** Everything the page knows; one object so the flow is easy to follow. */
const state = {
  token: null,
  /** The signalling link (keepSignal): reconnects by itself after a drop. */
  link: null,
  /** The signalling socket opened at least once. */
  opened: false,
  /** The hub welcomed us at least once. */
  welcomed: false,
  /** In the queue (re-joined by itself after a reconnection). */
  queued: false,
  /** Paired and the call not over (kept across a dropped connection). */
  inCall: false,
  /** After a reconnection in a call: gives up waiting for `paired` (resumed) after a while. */
  resumeTimer: null,
  linkNoticeTimer: null,
  peerNoticeTimer: null,
  /** Bumped by every `paired`, so a slower earlier one does not install its peer. */
  pairGen: 0,
  /** The camera and microphone check passed. */
  devicesOk: false,
  /** Set once an invite error was shown, so the socket close does not overwrite it. */
  fatal: false,
  closedNormally: false,
  name: '',
  service: '',
  catalogue: null,
  localStream: null,
  meter: null,
  peer: null,
  peerName: '',
  /** The session we are in (sent back with every consent answer). */
  sessionId: null,
  /** The consent request shown in the dialog, and the ones waiting behind it. */
  pendingConsent: null,
  consentQueue: [],
  /** Position of the shown request in the current run of requests (1-based). */
  consentIndex: 0,
  /** The "kept whatever you answer" notice, once the hub sent it. */
  notice: null,
  /** The last consent answer or withdrawal, for the status line: `{key, consent}`. */
  lastConsent: null,
  /** Items of the last `consents` message, or null before the applicant asked. */
  myConsents: null,
  withdrawTarget: null,
  /** The liveness prompt and declaration currently shown. */
  liveness: null,
  declaration: null,
  /** frame id → `{what, …}` for the frames whose ack or error we route. */
  refs: new Map(),
  /** id of our join_queue frame, to re-enable the button if the hub refuses it. */
  joinId: null,
  receipt: null,
  resumeSound: null,
  /** Screen wake lock while queued or in the call (phones must not sleep and drop us). */
  wakeLock: null,
  wantWake: false,
};

// ---------------------------------------------------------------- wake lock

async function keepAwake(on) {
  state.wantWake = on;
  if (!on) {
    if (state.wakeLock) state.wakeLock.release().catch(() => {});
    state.wakeLock = null;
    return;
  }
  if (state.wakeLock || !('wakeLock' in navigator) || document.visibilityState !== 'visible') return;
  try {
    state.wakeLock = await navigator.wakeLock.request('screen');
    state.wakeLock.addEventListener('release', () => {
      state.wakeLock = null;
    });
  } catch {
    // Not allowed (battery saver, unsupported): the page still works, the screen may sleep.
  }
}

// ---------------------------------------------------------------- language

function setupLanguage() {
  for (const { code, label } of LANGUAGES) {
    els.langSelect.append(h('option', { value: code, lang: code }, label));
    els.prefLang.append(h('option', { value: code, lang: code }, label));
  }
  const lang = setLanguage(initialLanguage());
  els.langSelect.value = lang;
  els.langSelect.addEventListener('change', () => {
    setLanguage(els.langSelect.value, { remember: true });
    renderDynamic();
  });
}

/** Text that is not a plain key lookup (service names, dates) is re-rendered here. */
function renderDynamic() {
  if (state.welcomed) {
    setI18n(els.serviceLine, 'serviceLine', { service: serviceName(state.service, state.catalogue) });
  }
  if (state.receipt) renderReceipt();
  renderConsentStatus();
  renderConsentProgress();
  renderMyConsents();
  tickOfficeTime();
  renderPlanning();
}

function tickOfficeTime() {
  const time = new Intl.DateTimeFormat(currentLanguage(), {
    timeZone: OFFICE_TZ,
    hour: '2-digit',
    minute: '2-digit',
    timeZoneName: 'short',
  }).format(new Date());
  els.officeTime.textContent = t('officeTime', { time });
}

async function loadCatalogue() {
  try {
    const list = await fetchJson('/api/services');
    if (Array.isArray(list)) {
      state.catalogue = Object.fromEntries(list.map((s) => [s.code, s.name || {}]));
      renderDynamic();
    }
  } catch {
    // The built-in names in i18n.js are used instead.
  }
}

// ---------------------------------------------------------------- status helpers

function status(key, vars, kind = '') {
  setI18n(els.status, key, vars);
  els.status.classList.toggle('is-error', kind === 'error');
  els.status.classList.toggle('is-ok', kind === 'ok');
  els.status.classList.toggle('is-warn', kind === 'warn');
  els.status.dataset.kind = kind || 'info';
}

function clearStatus() {
  setI18n(els.status, null);
  els.status.className = 'status';
  els.status.dataset.kind = 'info';
}

function fatal(key, vars) {
  state.fatal = true;
  status(key, vars, 'error');
  els.welcome.hidden = true;
  els.stepDevices.hidden = true;
  els.stepQueue.hidden = true;
  els.stepCall.hidden = true;
  stopMeter();
  stopStream(state.localStream);
  state.localStream = null;
  document.body.dataset.state = 'invite-error';
  renderPlanning();
}

function show(step) {
  for (const s of [els.stepDevices, els.stepQueue, els.stepCall, els.stepReceipt]) s.hidden = s !== step;
  document.body.dataset.state = step.id.replace('step-', '');
  renderPlanning();
}

// ---------------------------------------------------------------- 1. device check
// The socket is opened on page load (so an invalid or expired invite is reported before the
// applicant fiddles with camera permissions); the queue step opens once the hub has welcomed
// us AND the device check passed.

async function startDeviceCheck() {
  els.deviceStart.disabled = true;
  setI18n(els.deviceResult, 'deviceChecking');
  els.deviceResult.className = 'status';
  try {
    stopStream(state.localStream);
    state.localStream = await openCamera();
  } catch (err) {
    const kind = mediaErrorKind(err);
    const key = {
      denied: 'deviceDenied',
      notfound: 'deviceNotFound',
      inuse: 'deviceInUse',
      insecure: 'deviceInsecure',
    }[kind] || 'deviceOther';
    setI18n(els.deviceResult, key, { message: (err && (err.message || err.name)) || String(err) });
    els.deviceResult.className = 'status is-error';
    els.deviceResult.dataset.state = 'error';
    setI18n(els.deviceStart, 'deviceRetry');
    els.deviceStart.disabled = false;
    return;
  }
  els.preview.hidden = false;
  els.preview.srcObject = state.localStream;
  els.preview.play().catch(() => {});
  startMeter(state.localStream);
  setI18n(els.deviceResult, 'deviceOk');
  els.deviceResult.className = 'status is-ok';
  els.deviceResult.dataset.state = 'ok';
  els.deviceStart.hidden = true;
  state.devicesOk = true;
  maybeOpenQueue();
}

/** A live microphone level on a <meter>, so the applicant sees that sound is picked up. */
function startMeter(stream) {
  stopMeter();
  const Ctx = window.AudioContext || window.webkitAudioContext;
  if (!Ctx || stream.getAudioTracks().length === 0) return;
  try {
    const ctx = new Ctx();
    const source = ctx.createMediaStreamSource(stream);
    const analyser = ctx.createAnalyser();
    analyser.fftSize = 512;
    source.connect(analyser);
    const buf = new Float32Array(analyser.fftSize);
    const timer = setInterval(() => {
      analyser.getFloatTimeDomainData(buf);
      let sum = 0;
      for (const v of buf) sum += v * v;
      const rms = Math.sqrt(sum / buf.length);
      els.micMeter.value = Math.min(1, rms * 4);
    }, 100);
    state.meter = { ctx, timer };
    els.micCheck.hidden = false;
  } catch {
    // No level meter; the check itself still passed.
  }
}

function stopMeter() {
  if (!state.meter) return;
  clearInterval(state.meter.timer);
  state.meter.ctx.close().catch(() => {});
  state.meter = null;
}

// ---------------------------------------------------------------- signalling

function connect() {
  status('connecting');
  state.link = keepSignal({
    auth: async () =>
      state.guest
        ? { type: 'auth', guest: state.token, tz: Intl.DateTimeFormat().resolvedOptions().timeZone }
        : { type: 'auth', invite: state.token },
    onMessage: handleMessage,
    onState: onLinkState,
  });
}

/** The signalling link can carry frames now. */
function linkUp() {
  return !!state.link && state.link.isUp;
}

/** How long to wait for `paired` after a reconnection in a call before giving the call up. */
const RESUME_WAIT_MS = 10000;

function onLinkState(info) {
  document.body.dataset.link = info.state;
  switch (info.state) {
    case 'connecting':
      if (info.attempt === 0) status('connecting');
      break;
    case 'up':
      state.opened = true;
      renderLinkBlocked(false);
      if (info.resumed) showLinkStatus('linkBack', {}, 'ok', 'reconnected');
      break;
    case 'down':
      onLinkDown(info);
      break;
    case 'stopped':
      onLinkStopped(info);
      break;
    default:
      break;
  }
}

function onLinkDown(info) {
  clearTimeout(state.resumeTimer);
  if (info.opened) state.opened = true;
  if (state.fatal || state.closedNormally) {
    state.link.stop();
    return;
  }
  if (!state.welcomed && info.opened && !info.heard && typeof info.code === 'number' && info.code !== 1006) {
    // Closed right after auth without a word: the hub refused the invite.
    state.link.stop();
    fatal('inviteInvalid');
    return;
  }
  renderLinkBlocked(true);
  if (state.inCall) els.stepCall.dataset.link = 'down';
  showLinkStatus(info.online ? 'linkLost' : 'linkOffline', { attempt: info.attempt }, 'warn', 'reconnecting');
  els.linkStatus.dataset.attempt = String(info.attempt);
}

function onLinkStopped(info) {
  clearTimeout(state.resumeTimer);
  hideLinkStatus();
  if (info.reason === 'moved') {
    // Another window of this applicant took over: give it the camera and say where to go.
    endCall();
    keepAwake(false);
    stopMeter();
    stopStream(state.localStream);
    state.localStream = null;
    state.fatal = true;
    for (const s of [els.welcome, els.stepDevices, els.stepQueue, els.stepCall]) s.hidden = true;
    status('movedElsewhere', {}, 'warn');
    document.body.dataset.state = 'moved';
    renderPlanning();
  }
  // 'refused': onError showed why; 'stopped': the page asked for it.
}

/** "Connection lost — reconnecting… (attempt N)" / "Reconnected", on top of the page. */
function showLinkStatus(key, vars, kind, stateName) {
  clearTimeout(state.linkNoticeTimer);
  const el = els.linkStatus;
  setI18n(el, key, vars);
  el.className = `status link-status is-${kind}`;
  el.dataset.state = stateName;
  el.dataset.reconnects = String(state.link ? state.link.reconnects : 0);
  el.hidden = false;
  if (stateName === 'reconnected') {
    state.linkNoticeTimer = setTimeout(hideLinkStatus, 6000);
  }
  // The consent dialog is modal: say it inside too.
  els.consentLink.hidden = stateName !== 'reconnecting';
  if (stateName === 'reconnecting') setI18n(els.consentLink, 'linkWaitAnswer');
}

function hideLinkStatus() {
  clearTimeout(state.linkNoticeTimer);
  els.linkStatus.hidden = true;
  els.consentLink.hidden = true;
}

/** Buttons that need the hub: marked unavailable while the link is down (their handlers check too). */
function renderLinkBlocked(blocked) {
  for (const b of [
    els.consentAccept,
    els.consentDecline,
    els.livenessDone,
    els.declarationConfirm,
    els.myConsentsShow,
    els.withdrawConfirm,
    els.joinQueue,
    els.leaveQueue,
  ]) {
    if (blocked) b.setAttribute('aria-disabled', 'true');
    else b.removeAttribute('aria-disabled');
  }
  if (!blocked) {
    delete els.stepCall.dataset.link;
    els.consentLink.hidden = true;
  }
}

/** Say, next to what the applicant tried, that it has to wait for the connection. */
function notConnected(el) {
  if (el) {
    setI18n(el, 'linkWaitAction');
    el.dataset.linkWait = 'true';
  }
  return null;
}
/** Send a frame; `ref` (`{what, …}`) routes the ack or error the hub answers it with. */
function send(msg, ref) {
  if (!linkUp()) return null;
  const id = state.link.send(msg);
  if (id != null && ref) state.refs.set(id, ref);
  return id;
}

function handleMessage(msg) {
  switch (msg.type) {
    case 'welcome':
      onWelcome(msg);
      break;
    case 'queue_position':
      onQueuePosition(msg);
      break;
    case 'ice_servers':
      setIceServers(msg.servers);
      break;
    case 'lobby':
      onLobby(msg);
      break;
    case 'paired':
      onPaired(msg);
      break;
    case 'answer':
      onAnswer(msg);
      break;
    case 'renegotiate':
      onRenegotiate(msg);
      break;
    case 'participants':
      state.participants = Array.isArray(msg.participants) ? msg.participants : [];
      pruneParticipantTiles(els.participantTiles, state.participants, participantLabel);
      break;
    case 'consent_requested':
      onConsentRequested(msg);
      break;
    case 'consents':
      onConsents(msg);
      break;
    case 'liveness_prompt':
      onLivenessPrompt(msg);
      break;
    case 'declaration_requested':
      onDeclarationRequested(msg);
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
    case 'draining':
      // The hub is restarting: an open session ends (session_closed follows), the socket
      // closes and the link reconnects by itself.
      showLinkStatus('deskRestarting', { secs: msg.retry_after_secs || 30 }, 'warn', 'draining');
      break;
    case 'ack':
      onAck(msg);
      break;
    case 'error':
      onError(msg);
      break;
    default:
      break;
  }
}

function onWelcome(msg) {
  state.welcomed = true;
  state.name = msg.name || '';
  state.service = msg.service || '';
  clearStatus();
  if (state.guest) {
    // A guest is already in the session's waiting room: no queue, no planning.
    state.role = msg.role || '';
    setI18n(els.greeting, 'greeting', { name: state.name });
    els.welcome.hidden = false;
    els.serviceLine.hidden = true;
    setI18n(els.lobbyStatus, 'guestWelcome', { role: roleName(state.role) });
    els.lobbyStatus.hidden = false;
    return;
  }
  setI18n(els.greeting, 'greeting', { name: state.name });
  setI18n(els.serviceLine, 'serviceLine', { service: serviceName(state.service, state.catalogue) });
  els.serviceLine.hidden = !state.service;
  els.welcome.hidden = false;
  maybeOpenQueue();
  if (state.inCall) {
    // Back after a drop in a call: the hub sends `paired` (resumed) if the session waited.
    clearTimeout(state.resumeTimer);
    state.resumeTimer = setTimeout(sessionNotResumed, RESUME_WAIT_MS);
    setI18n(els.callStatus, 'callResuming');
  } else if (state.lobby === 'waiting') {
    // Back after a drop in the waiting room: the hub says `lobby` again if the session waited.
    clearTimeout(state.resumeTimer);
    state.resumeTimer = setTimeout(sessionNotResumed, RESUME_WAIT_MS);
  } else if (state.queued) {
    // The queue place is the hub's to keep or drop: ask for it again (a "conflict" means kept).
    state.joinId = send({ type: 'join_queue' });
  }
}

/** Reconnected, but the hub did not resume the call: it ended while we were away. */
function sessionNotResumed() {
  if (!state.inCall && state.lobby !== 'waiting') return;
  endCall();
  state.queued = false;
  state.lobby = null;
  els.lobbyStatus.hidden = true;
  els.queueIntro.hidden = false;
  show(els.stepQueue);
  els.joinQueue.hidden = false;
  els.joinQueue.disabled = false;
  els.leaveQueue.hidden = true;
  els.queueKeepOpen.hidden = true;
  setI18n(els.queuePosition, null);
  status('sessionLost', {}, 'warn');
}

/** Step 2 opens when both the hub's welcome and the device check are done. */
function maybeOpenQueue() {
  if (!state.welcomed || !state.devicesOk || state.fatal || state.guest) return;
  if (!els.stepQueue.hidden || !els.stepCall.hidden || !els.stepReceipt.hidden) return;
  stopMeter();
  show(els.stepQueue);
  els.joinQueue.hidden = false;
  els.joinQueue.disabled = false;
  els.leaveQueue.hidden = true;
  els.joinQueue.focus();
}

function joinQueue() {
  if (!linkUp()) return notConnected(els.queuePosition);
  els.joinQueue.disabled = true;
  keepAwake(true);
  setI18n(els.queuePosition, 'queueJoining');
  state.joinId = send({ type: 'join_queue' });
}

function leaveQueue() {
  if (!linkUp()) return notConnected(els.queuePosition);
  state.queued = false;
  send({ type: 'leave_queue' });
  els.leaveQueue.hidden = true;
  els.joinQueue.hidden = false;
  els.joinQueue.disabled = false;
  els.queueKeepOpen.hidden = true;
  delete els.queuePosition.dataset.position;
  delete els.queuePosition.dataset.length;
  setI18n(els.queuePosition, 'queueLeft');
  renderQueueWait(null);
  keepAwake(false);
  els.joinQueue.focus();
}

const LOBBY_TEXT = { waiting: 'lobbyWaiting', admitted: 'lobbyAdmitted', denied: 'lobbyDenied' };

/**
 * The waiting room. An officer took the case and the applicant waits (`waiting`) until they
 * are let in (`admitted`: `paired` follows, then the call) or turned away (`denied`:
 * `session_closed` follows with the outcome). After a reload the hub says again where they are.
 */
function onLobby(msg) {
  const key = LOBBY_TEXT[msg.state];
  if (!key) return;
  if (!state.inCall) clearTimeout(state.resumeTimer);
  state.lobby = msg.state;
  document.body.dataset.lobby = msg.state;
  els.lobbyStatus.dataset.state = msg.state;
  els.lobbyStatus.className = `status lobby-status is-${msg.state === 'denied' ? 'warn' : 'ok'}`;
  if (state.guest && msg.state === 'waiting') {
    setI18n(els.lobbyStatus, 'guestWelcome', { role: roleName(state.role) });
  } else {
    setI18n(els.lobbyStatus, key);
  }
  els.lobbyStatus.hidden = false;
  if (msg.state === 'waiting') {
    // Out of the queue, not yet in the call: nothing to press, just keep the page open.
    state.queued = false;
    els.joinQueue.hidden = true;
    els.leaveQueue.hidden = true;
    setI18n(els.queuePosition, null);
    renderQueueWait(null);
    els.queueIntro.hidden = true;
    els.queueKeepOpen.hidden = false;
  }
  renderPlanning();
}

function onQueuePosition(msg) {
  state.queued = true;
  const position = Number(msg.position);
  const length = Number(msg.length);
  els.queuePosition.dataset.position = String(position);
  els.queuePosition.dataset.length = String(length);
  setI18n(els.queuePosition, 'queuePosition', { position, length });
  renderQueueWait(msg.estimated_wait_minutes);
  els.queueKeepOpen.hidden = false;
  els.joinQueue.hidden = true;
  const hadFocus = document.activeElement === els.joinQueue;
  els.leaveQueue.hidden = false;
  els.leaveQueue.disabled = false;
  if (hadFocus) els.leaveQueue.focus();
}

/** "about N minutes" under the position; hidden when the hub gives no estimate. */
function renderQueueWait(minutes) {
  if (typeof minutes !== 'number' || !Number.isFinite(minutes)) {
    els.queueWait.hidden = true;
    delete els.queueWait.dataset.minutes;
    setI18n(els.queueWait, null);
    return;
  }
  const m = Math.max(0, Math.round(minutes));
  els.queueWait.dataset.minutes = String(m);
  setI18n(els.queueWait, m === 0 ? 'queueWaitSoon' : m === 1 ? 'queueWaitOne' : 'queueWait', { minutes: m });
  els.queueWait.hidden = false;
}

// ---------------------------------------------------------------- the call

/**
 * Paired with an officer, or (`resumed: true`) back in the same session after a dropped
 * connection: a new peer connection with the hub either way (the old one is closed), but a
 * resumed call keeps everything the page shows (consents, prompts, "My consents").
 */
async function onPaired(msg) {
  clearTimeout(state.resumeTimer);
  const gen = ++state.pairGen;
  const resumed = !!msg.resumed && state.inCall && state.sessionId === (msg.session_id || null);
  state.peerName = (msg.peer && msg.peer.name) || state.peerName || '';
  state.sessionId = msg.session_id || null;
  state.inCall = true;
  state.queued = false;
  show(els.stepCall);
  els.stepCall.dataset.sessionId = msg.session_id || '';
  if (msg.resumed) els.stepCall.dataset.resumed = String(Number(els.stepCall.dataset.resumed || 0) + 1);
  setI18n(els.callStatus, resumed ? 'callResuming' : 'callConnecting');
  if (resumed) afterResume();
  // The hub kept our media connection: resume it with an ICE restart instead of a new one.
  if (resumed && msg.media === 'resume' && (await resumeMedia())) return;
  const publish = msg.publish !== false;
  if (!publish) {
    // A guest who watches and listens only: no camera, no microphone.
    stopStream(state.localStream);
    state.localStream = null;
    setI18n(els.lobbyStatus, 'guestWatchOnly', { role: roleName(state.role) });
    els.lobbyStatus.hidden = false;
  } else if (!state.localStream) {
    // Paired before the device check (a reload in a call): the camera was allowed already.
    try {
      state.localStream = await openCamera();
      state.devicesOk = true;
      stopMeter();
    } catch {
      // The officer will not see us; the status below says the video could not be set up.
    }
    if (!state.inCall || gen !== state.pairGen) return;
  }
  els.localVideo.srcObject = state.localStream;
  els.localVideo.play().catch(() => {});
  if (state.peer) {
    state.peer.close();
    state.peer = null;
  }
  let peer;
  try {
    peer = await createPeer(
      state.localStream,
      (stream) => {
        playStream(els.remoteVideo, stream, (resume) => {
          state.resumeSound = resume;
          els.enableSound.hidden = false;
        });
      },
      {
        main: msg.main || 'officer',
        publish,
        onOtherStream: (id, stream) => {
          const p = (state.participants || []).find((x) => x.role === id) || { role: id, name: '' };
          showParticipantTile(els.participantTiles, id, stream, participantLabel(p));
        },
      },
    );
  } catch (err) {
    setI18n(els.callStatus, 'mediaFailed', { message: err && err.message ? err.message : String(err) });
    return;
  }
  if (!state.inCall || gen !== state.pairGen) {
    // The call ended (or another `paired` came) while the offer was being prepared.
    peer.close();
    return;
  }
  state.peer = peer;
  const pc = peer.pc;
  pc.addEventListener('connectionstatechange', () => {
    if (state.peer !== peer) return; // an old connection closing after a resume
    els.stepCall.dataset.connection = pc.connectionState;
    if (pc.connectionState === 'connected') {
      setI18n(els.callStatus, 'callWith', { name: state.peerName });
      els.lobbyStatus.hidden = true;
    } else if (pc.connectionState === 'failed' && linkUp()) {
      setI18n(els.callStatus, 'callFailed');
      // The network changed under a live call: an ICE restart keeps it.
      resumeMedia();
    }
  });
  send({ type: 'offer', sdp: peer.sdp });
}

/**
 * Back in the session after a drop. The hub re-sends none of the prompts, so what is on
 * screen stays; what was sent and never acknowledged can be sent again.
 */
function afterResume() {
  renderLinkBlocked(false);
  if (state.liveness && els.livenessDone.disabled) {
    els.livenessDone.disabled = false;
    setI18n(els.livenessStatus, null);
  }
  if (state.declaration && els.declarationConfirm.disabled) {
    els.declarationConfirm.disabled = false;
    setI18n(els.declarationStatus, null);
  }
  if (state.myConsents) requestMyConsents();
}

/** `interpreter-1` → the role's name in the page's language. */
function roleName(participant) {
  return t(`lobbyRole_${String(participant).replace(/-\d+$/, '')}`);
}

/** How another participant is captioned: their name and role. */
function participantLabel(p) {
  return t('participantTile', { name: p.name || roleName(p.role), role: roleName(p.role) });
}

/** An ICE restart on the live connection; false if there is none to restart. */
async function resumeMedia() {
  if (!state.peer || !state.peer.resumable()) return false;
  const sent = await offerAgain(() => state.peer, (peer) => peer.restartIce(), (sdp) => send({ type: 'offer', sdp }));
  return sent.ok;
}

/** Someone joined or left: a new offer on the same connection, with room for everyone. */
async function onRenegotiate(msg) {
  const receive = Number(msg.receive) || 1;
  const { error } = await offerAgain(() => state.peer, (peer) => peer.renegotiate(receive), (sdp) => send({ type: 'offer', sdp }));
  if (error) setI18n(els.callStatus, 'mediaFailed', { message: error.message || String(error) });
}

async function onAnswer(msg) {
  if (!state.peer) return;
  try {
    await state.peer.acceptAnswer(msg.sdp);
  } catch (err) {
    setI18n(els.callStatus, 'mediaFailed', { message: err && err.message ? err.message : String(err) });
  }
}

function onPeerState(msg) {
  // Only the officer's state matters here; guests come and go in the tiles.
  if (msg.role !== 'officer') return;
  if (msg.state === 'left' || msg.state === 'disconnected') {
    setI18n(els.callStatus, 'peerLeft');
    peerNotice('peerLeft', 'left', 'warn');
  } else if (msg.state === 'joined') {
    setI18n(els.callStatus, 'peerJoined');
  } else if (msg.state === 'reconnecting') {
    peerNotice('peerReconnecting', 'reconnecting', 'warn');
  } else if (msg.state === 'rejoined') {
    peerNotice('peerRejoined', 'rejoined', 'ok');
  }
}

/** The officer's connection: dropped (waiting for them), back, or gone. */
function peerNotice(key, stateName, kind) {
  const el = els.peerNotice;
  clearTimeout(state.peerNoticeTimer);
  setI18n(el, key);
  el.className = `status is-${kind}`;
  el.dataset.state = stateName;
  el.dataset.history = `${el.dataset.history || ''} ${stateName}`.trim().split(' ').slice(-10).join(' ');
  el.hidden = false;
  if (stateName === 'rejoined') {
    state.peerNoticeTimer = setTimeout(() => {
      el.hidden = true;
    }, 8000);
  }
}

function onRecording(msg) {
  const active = !!msg.active;
  els.recordingIndicator.hidden = !active;
  els.stepCall.dataset.recording = String(active);
  setI18n(els.recordingStatus, active ? 'recordingOn' : 'recordingOff');
}

function endCall() {
  state.inCall = false;
  clearTimeout(state.resumeTimer);
  clearTimeout(state.peerNoticeTimer);
  els.peerNotice.hidden = true;
  delete els.peerNotice.dataset.state;
  delete els.peerNotice.dataset.history;
  delete els.stepCall.dataset.link;
  if (state.peer) {
    state.peer.close();
    state.peer = null;
  }
  els.remoteVideo.srcObject = null;
  els.localVideo.srcObject = null;
  els.recordingIndicator.hidden = true;
  els.enableSound.hidden = true;
  state.pendingConsent = null;
  state.consentQueue = [];
  state.consentIndex = 0;
  if (els.consentDialog.open) els.consentDialog.close();
  if (els.withdrawDialog.open) els.withdrawDialog.close();
  els.consentReopen.hidden = true;
  els.livenessPanel.hidden = true;
  els.declarationPanel.hidden = true;
  state.liveness = null;
  state.declaration = null;
}

// ---------------------------------------------------------------- consents

/** i18n key of a consent's name: `personal-information` → `consent_personal_information`. */
function consentKey(consent) {
  return 'consent_' + String(consent || '').replace(/[^a-z0-9]+/gi, '_');
}

function consentName(consent, lang = currentLanguage()) {
  const key = consentKey(consent);
  const table = MESSAGES[lang] || MESSAGES.en;
  return table[key] || MESSAGES.en[key] || consent;
}

/** A label in `lang` (English when missing). */
function label(key, lang = currentLanguage()) {
  return (MESSAGES[lang] && MESSAGES[lang][key]) || MESSAGES.en[key] || key;
}

/**
 * The officer asks for a consent. Requests are queued: the dialog shows one at a time, in the
 * order they arrived (the officer's console relies on that order for refusals).
 */
function onConsentRequested(msg) {
  if (!msg || !msg.consent) return;
  if (msg.notice && msg.notice.text) state.notice = msg.notice;
  // A request asked again replaces the earlier one that was not answered yet.
  state.consentQueue = state.consentQueue.filter((r) => r.consent !== msg.consent);
  if (state.pendingConsent && state.pendingConsent.consent === msg.consent) {
    // Keep a notice that was attached to the first copy.
    if (!msg.notice && state.pendingConsent.notice) msg.notice = state.pendingConsent.notice;
    state.pendingConsent = msg;
    renderConsentDialog();
    return;
  }
  state.consentQueue.push(msg);
  if (state.pendingConsent) {
    renderConsentProgress();
    return;
  }
  showNextConsent();
}

function showNextConsent() {
  if (state.pendingConsent || state.consentQueue.length === 0) return;
  state.pendingConsent = state.consentQueue.shift();
  state.consentIndex += 1;
  renderConsentDialog();
  els.consentReopen.hidden = true;
  if (!els.consentDialog.open) {
    els.consentDialog.showModal();
  } else {
    // The next request replaces the answered one inside the open dialog: guard against a
    // double tap answering it unread.
    els.consentAccept.disabled = true;
    els.consentDecline.disabled = true;
    setTimeout(() => {
      els.consentAccept.disabled = false;
      els.consentDecline.disabled = false;
    }, 800);
  }
  els.consentDialog.scrollTop = 0;
  els.consentText.scrollTop = 0;
  els.consentNotice.scrollTop = 0;
  els.consentTitle.focus();
}

function renderConsentDialog() {
  const req = state.pendingConsent;
  if (!req) return;
  const key = consentKey(req.consent);
  if (MESSAGES.en[key]) setI18n(els.consentTitle, key);
  else {
    setI18n(els.consentTitle, null);
    els.consentTitle.textContent = req.consent;
  }
  els.consentDialog.dataset.consent = req.consent;
  els.consentDialog.dataset.notice = String(!!(req.notice && req.notice.text));
  els.consentNoticeBox.hidden = !(req.notice && req.notice.text);
  els.consentNotice.textContent = req.notice && req.notice.text ? req.notice.text : '';
  els.consentText.textContent = req.text || '';
  for (const el of [els.consentText, els.consentNotice]) {
    if (req.lang) el.lang = req.lang;
    else el.removeAttribute('lang');
  }
  els.consentLegalBasis.textContent = req.legal_basis || '—';
  els.consentRetention.textContent = req.retention || '—';
  els.consentRecipientRow.hidden = !req.recipient;
  els.consentRecipient.textContent = req.recipient || '';
  renderConsentProgress();
}

function renderConsentProgress() {
  const total = state.consentIndex + state.consentQueue.length;
  if (!state.pendingConsent || total < 2) {
    setI18n(els.consentProgress, null);
    return;
  }
  setI18n(els.consentProgress, 'consentProgress', { index: state.consentIndex, total });
}

function answerConsent(granted) {
  const req = state.pendingConsent;
  if (!req) return;
  if (!linkUp()) {
    // Keep the request on screen; it can be answered once the connection is back.
    els.consentLink.hidden = false;
    setI18n(els.consentLink, 'linkWaitAnswer');
    return;
  }
  state.pendingConsent = null;
  const msg = { type: 'consent_answer', consent: req.consent, granted };
  if (state.sessionId) msg.session_id = state.sessionId;
  send(msg, { what: 'consent_answer', consent: req.consent, granted });
  state.lastConsent = { key: granted ? 'consentGiven' : 'consentRefused', consent: req.consent };
  renderConsentStatus();
  if (state.consentQueue.length) {
    showNextConsent();
  } else {
    state.consentIndex = 0;
    els.consentDialog.close();
    els.consentReopen.hidden = true;
  }
}

function renderConsentStatus() {
  const last = state.lastConsent;
  if (!last) {
    setI18n(els.consentStatus, null);
    return;
  }
  setI18n(els.consentStatus, last.key, { consent: consentName(last.consent) });
  els.consentStatus.dataset.consent = last.consent;
  els.consentStatus.dataset.state = last.key;
}

// ---------------------------------------------------------------- my consents

function requestMyConsents() {
  if (!linkUp()) return notConnected(els.myConsentsStatus);
  if (!state.myConsents) setI18n(els.myConsentsStatus, 'myConsentsLoading');
  send({ type: 'my_consents' }, { what: 'my_consents' });
}

/** The hub lists consents by id; show them in the order they were answered, unanswered last. */
function onConsents(msg) {
  const items = Array.isArray(msg.items) ? msg.items.slice() : [];
  const when = (c) => (c.at ? Date.parse(c.at) || 0 : Number.MAX_SAFE_INTEGER);
  items.sort((a, b) => when(a) - when(b));
  state.myConsents = items;
  renderMyConsents();
}

/** An RFC 3339 instant in the applicant's language and zone, naming the zone. */
function instantText(iso, lang = currentLanguage()) {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return new Intl.DateTimeFormat(lang, {
    year: 'numeric',
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    timeZoneName: 'short',
  }).format(d);
}

function answerText(answer, lang = currentLanguage()) {
  const key = `answer_${answer}`;
  return MESSAGES.en[key] ? label(key, lang) : answer;
}

function renderMyConsents() {
  const items = state.myConsents;
  if (!items) return;
  els.myConsentsDownload.hidden = items.length === 0;
  setI18n(els.myConsentsShow, 'myConsentsRefresh');
  setI18n(els.myConsentsStatus, items.length ? null : 'myConsentsNone');
  els.myConsentsList.replaceChildren(
    ...items.map((c) => {
      const answer = c.answer || 'pending';
      const badge = { granted: ' ok', refused: ' bad', withdrawn: ' bad' }[answer] || '';
      const details = h(
        'details',
        { class: 'consent-details' },
        h('summary', {}, t('showText')),
        h('div', { class: 'consent-text', lang: c.lang || null, tabindex: '0', dataset: { testid: 'my-consent-text' } }, c.text || ''),
        h(
          'dl',
          { class: 'consent-meta' },
          metaRow(t('legalBasis'), c.legal_basis, 'en'),
          metaRow(t('retention'), c.retention, 'en'),
          c.recipient ? metaRow(t('recipient'), c.recipient, 'en') : null,
          metaRow(t('textVersion'), `${c.text_id || c.consent} v${c.text_version} (${c.lang})`),
          metaRow(t('fingerprint'), c.text_sha256, null, 'mono break'),
        ),
      );
      let withdraw = null;
      if (answer === 'granted') {
        withdraw = h(
          'button',
          { type: 'button', class: 'btn secondary small', dataset: { testid: 'consent-withdraw', consent: c.consent } },
          t('withdraw'),
        );
        withdraw.addEventListener('click', () => askWithdraw(c.consent));
      }
      return h(
        'li',
        { class: 'consent-item', dataset: { testid: 'my-consent', consent: c.consent, answer } },
        h(
          'p',
          { class: 'consent-item-head' },
          h('strong', {}, consentName(c.consent)),
          ' ',
          h('span', { class: 'badge' + badge, dataset: { testid: 'my-consent-answer' } }, answerText(answer)),
        ),
        c.at ? h('p', { class: 'small muted' }, t('answeredAt', { time: instantText(c.at) })) : null,
        details,
        withdraw ? h('div', { class: 'form-actions' }, withdraw) : null,
      );
    }),
  );
}

function metaRow(term, value, lang = null, cls = null) {
  return h('div', {}, h('dt', {}, term), h('dd', { lang: lang || null, class: cls || null }, value || '—'));
}

/** Every consent text with its fingerprint, answer and time, as a text file. */
function downloadMyConsents() {
  const items = state.myConsents || [];
  const lang = currentLanguage();
  const m = (key) => label(key, lang);
  const lines = [
    m('consentsFileTitle'),
    '',
    `${m('receiptName')}: ${state.name}`,
    `${m('receiptService')}: ${serviceName(state.service, state.catalogue, lang)}`,
    `${m('receiptSession')}: ${state.sessionId || ''}`,
    `${m('downloadedAt')}: ${instantText(new Date().toISOString(), lang)} (${new Date().toISOString()})`,
  ];
  if (state.notice) {
    lines.push('', '========================================', m('noticeTitle'), '');
    lines.push(`${m('fingerprint')}: ${state.notice.text_sha256}`, '', state.notice.text.trim());
  }
  items.forEach((c, i) => {
    lines.push(
      '',
      '========================================',
      `${i + 1}. ${consentName(c.consent, lang)} (${c.consent})`,
      '',
      `${m('answerLabel')}: ${answerText(c.answer, lang)} (${c.answer})`,
      `${m('timeLabel')}: ${c.at ? `${instantText(c.at, lang)} (${c.at})` : '—'}`,
      `${m('textVersion')}: ${c.text_id || c.consent} v${c.text_version} (${c.lang})`,
      `${m('fingerprint')}: ${c.text_sha256}`,
      `${m('legalBasis')}: ${c.legal_basis || '—'}`,
      `${m('retention')}: ${c.retention || '—'}`,
    );
    if (c.recipient) lines.push(`${m('recipient')}: ${c.recipient}`);
    lines.push('', String(c.text || '').trim());
  });
  const name = `globallink-consents-${state.sessionId || 'session'}.txt`;
  downloadText(name, lines.join('\n') + '\n');
  setI18n(els.myConsentsStatus, 'consentsFileSaved');
}

function askWithdraw(consent) {
  state.withdrawTarget = consent;
  els.withdrawDialog.dataset.consent = consent;
  setI18n(els.withdrawQuestion, 'withdrawQuestion', { consent: consentName(consent) });
  setI18n(els.withdrawEffect, consent === 'recording' ? 'withdrawRecording' : 'withdrawOther');
  if (!els.withdrawDialog.open) els.withdrawDialog.showModal();
  els.withdrawCancel.focus();
}

function confirmWithdraw() {
  if (!linkUp()) {
    els.withdrawDialog.close();
    state.withdrawTarget = null;
    return notConnected(els.myConsentsStatus);
  }
  const consent = state.withdrawTarget;
  state.withdrawTarget = null;
  els.withdrawDialog.close();
  if (!consent) return;
  send({ type: 'withdraw_consent', consent }, { what: 'withdraw_consent', consent });
}

// ---------------------------------------------------------------- liveness and declaration

/** Fold a finished prompt panel away after a moment, so the video moves back up. */
const foldTimers = new Map();
function foldLater(panel) {
  clearTimeout(foldTimers.get(panel));
  foldTimers.set(panel, setTimeout(() => {
    panel.hidden = true;
  }, 6000));
}
function cancelFold(panel) {
  clearTimeout(foldTimers.get(panel));
  foldTimers.delete(panel);
}

function onLivenessPrompt(msg) {
  cancelFold(els.livenessPanel);
  state.liveness = msg;
  els.livenessPanel.dataset.promptId = msg.prompt_id || '';
  els.livenessPanel.dataset.state = 'prompted';
  els.livenessText.textContent = msg.text || '';
  els.livenessDone.hidden = false;
  els.livenessDone.disabled = false;
  setI18n(els.livenessStatus, null);
  els.livenessStatus.className = 'status';
  els.livenessPanel.hidden = false;
  els.livenessPanel.scrollIntoView({ block: 'center', behavior: 'smooth' });
  els.livenessHeading.focus({ preventScroll: true });
}

function livenessDone() {
  if (!state.liveness) return;
  if (!linkUp()) return notConnected(els.livenessStatus);
  els.livenessDone.disabled = true;
  setI18n(els.livenessStatus, 'sending');
  send({ type: 'liveness_done' }, { what: 'liveness_done' });
}

function onDeclarationRequested(msg) {
  cancelFold(els.declarationPanel);
  state.declaration = msg;
  els.declarationPanel.dataset.declaration = msg.declaration || '';
  els.declarationPanel.dataset.state = 'requested';
  els.declarationText.textContent = msg.text || '';
  if (msg.lang) els.declarationText.lang = msg.lang;
  els.declarationIntro.hidden = false;
  els.declarationText.hidden = false;
  els.declarationConfirm.hidden = false;
  els.declarationConfirm.disabled = false;
  setI18n(els.declarationStatus, null);
  els.declarationStatus.className = 'status';
  els.declarationPanel.hidden = false;
  els.declarationText.scrollTop = 0;
  els.declarationPanel.scrollIntoView({ block: 'start', behavior: 'smooth' });
  els.declarationHeading.focus({ preventScroll: true });
}

function confirmDeclaration() {
  const d = state.declaration;
  if (!d) return;
  if (!linkUp()) return notConnected(els.declarationStatus);
  els.declarationConfirm.disabled = true;
  setI18n(els.declarationStatus, 'sending');
  send(
    { type: 'confirm_declaration', declaration: d.declaration, text_sha256: d.text_sha256 },
    { what: 'confirm_declaration', declaration: d.declaration },
  );
}

// ---------------------------------------------------------------- acks and errors of our frames

/** The hub committed an event this page caused. */
function onAck(msg) {
  const ref = msg.ref != null ? state.refs.get(msg.ref) : undefined;
  if (msg.ref != null) state.refs.delete(msg.ref);
  const what = ref ? ref.what : '';
  if (what === 'consent_answer') {
    if (state.myConsents) requestMyConsents();
  } else if (what === 'withdraw_consent' || msg.event === 'consent_withdrawn') {
    if (ref && ref.consent) state.lastConsent = { key: 'consentWithdrawnStatus', consent: ref.consent };
    renderConsentStatus();
    requestMyConsents();
  } else if (what === 'liveness_done' || msg.event === 'liveness_responded') {
    els.livenessPanel.dataset.state = 'done';
    els.livenessDone.hidden = true;
    setI18n(els.livenessStatus, 'livenessSent');
    els.livenessStatus.className = 'status is-ok';
    state.liveness = null;
    foldLater(els.livenessPanel);
  } else if (what === 'confirm_declaration' || msg.event === 'declaration_confirmed') {
    els.declarationPanel.dataset.state = 'confirmed';
    els.declarationConfirm.hidden = true;
    els.declarationIntro.hidden = true;
    els.declarationText.hidden = true;
    setI18n(els.declarationStatus, 'declarationConfirmed');
    els.declarationStatus.className = 'status is-ok';
    state.declaration = null;
    foldLater(els.declarationPanel);
  }
}

/** Show a refused frame's error next to what it was about; false if it has no place. */
function errorShownNear(ref, text) {
  const what = ref ? ref.what : '';
  const put = (el) => {
    setI18n(el, 'errorMessage', { message: text });
    el.className = 'status is-error';
  };
  if (what === 'liveness_done') {
    put(els.livenessStatus);
    els.livenessDone.disabled = false;
    return true;
  }
  if (what === 'confirm_declaration') {
    put(els.declarationStatus);
    els.declarationConfirm.disabled = false;
    return true;
  }
  if (what === 'my_consents' || what === 'withdraw_consent') {
    setI18n(els.myConsentsStatus, 'errorMessage', { message: text });
    return true;
  }
  if (what === 'consent_answer') {
    setI18n(els.consentStatus, 'errorMessage', { message: text });
    els.consentStatus.dataset.state = 'error';
    return true;
  }
  return false;
}

// ---------------------------------------------------------------- receipt

function onSessionClosed(msg) {
  state.closedNormally = true;
  // The session is over: no reconnection after this.
  if (state.link) state.link.stop();
  hideLinkStatus();
  state.receipt = {
    sessionId: msg.session_id || '',
    artefactId: msg.artefact_id || '',
    manifest: msg.manifest_sha256 || '',
    outcome: msg.outcome || '',
    reason: msg.reason || '',
    closedAt: new Date(),
  };
  endCall();
  keepAwake(false);
  stopStream(state.localStream);
  state.localStream = null;
  clearStatus();
  renderReceipt();
  show(els.stepReceipt);
  els.receiptHeading.focus();
}

function closedAtText(lang) {
  const d = state.receipt.closedAt;
  const local = new Intl.DateTimeFormat(lang, { dateStyle: 'long', timeStyle: 'long' }).format(d);
  return `${local} (${d.toISOString()})`;
}

function renderReceipt() {
  const r = state.receipt;
  const sealed = !!r.artefactId;
  const interrupted = r.outcome === 'interrupted';
  setI18n(
    els.receiptIntro,
    r.outcome === 'denied' ? 'lobbyDenied' : interrupted ? 'receiptInterrupted' : sealed ? 'receiptIntro' : 'receiptNone',
  );
  els.receiptRowArtefact.hidden = !sealed;
  els.receiptRowHash.hidden = !r.manifest;
  els.receiptArtefact.textContent = r.artefactId;
  els.receiptHash.textContent = r.manifest;
  els.receiptSession.textContent = r.sessionId;
  els.receiptOutcome.textContent = outcomeText(r.outcome, currentLanguage());
  els.receiptOutcome.dataset.outcome = r.outcome;
  els.receiptRowReason.hidden = !r.reason;
  els.receiptReason.textContent = r.reason;
  els.receiptClosed.textContent = closedAtText(currentLanguage());
  els.receiptSave.hidden = !sealed;
}

/** "completed" → "Concluída"; unknown outcomes are shown as sent. */
function outcomeText(outcome, lang) {
  const key = {
    completed: 'outcomeCompleted',
    incomplete: 'outcomeIncomplete',
    refused: 'outcomeRefused',
    denied: 'outcomeDenied',
    interrupted: 'outcomeInterrupted',
  }[outcome];
  if (!key) return outcome;
  return (MESSAGES[lang] && MESSAGES[lang][key]) || MESSAGES.en[key];
}

/** The receipt text in one language (keys looked up directly so we can add English too). */
function receiptLines(lang) {
  const m = (key) => (MESSAGES[lang] && MESSAGES[lang][key]) || MESSAGES.en[key];
  const r = state.receipt;
  const svc = serviceName(state.service, state.catalogue, lang);
  return [
    m('receiptFileTitle'),
    '',
    `${m('receiptName')}: ${state.name}`,
    `${m('receiptService')}: ${svc}`,
    `${m('receiptSession')}: ${r.sessionId}`,
    `${m('receiptArtefact')}: ${r.artefactId}`,
    `${m('receiptHash')}: ${r.manifest}`,
    `${m('receiptOutcome')}: ${outcomeText(r.outcome, lang)}`,
    ...(r.reason ? [`${m('receiptReason')}: ${r.reason}`] : []),
    `${m('receiptClosedAt')}: ${closedAtText(lang)}`,
    '',
    m('receiptFileNote'),
  ];
}

function saveReceipt() {
  const lang = currentLanguage();
  let lines = receiptLines(lang);
  if (lang !== 'en') lines = lines.concat(['', '----------------------------------------', ''], receiptLines('en'));
  const name = `globallink-receipt-${state.receipt.artefactId || state.receipt.sessionId || 'session'}.txt`;
  downloadText(name, lines.join('\n') + '\n');
  setI18n(els.receiptSaved, 'receiptSaved');
}

// ---------------------------------------------------------------- errors

function onError(msg) {
  const code = String(msg.code || '');
  const text = msg.message || code;
  if (code === 'moved') return; // the link stops; onLinkStopped says where the session went
  if (!linkUp()) {
    // Refused before `welcome`: a hub-side hiccup says nothing about the invite (try again
    // later, the link does it by itself); anything else means the invite itself was refused.
    if (/^(internal|rate_limited|unavailable|too_many)/.test(code)) {
      status('tryLater', { message: text }, 'error');
      state.link.reconnect();
    } else {
      endCall();
      fatal(/expire/i.test(code) || /expire/i.test(text) ? 'inviteExpired' : 'inviteInvalid');
      state.link.stop();
    }
    return;
  }
  if (msg.ref != null && msg.ref === state.joinId) {
    state.joinId = null;
    if (code === 'conflict' && state.queued) return; // re-joining after a reconnection: still queued
    state.queued = false;
    els.joinQueue.disabled = false;
    setI18n(els.queuePosition, null);
  }
  const ref = msg.ref != null ? state.refs.get(msg.ref) : undefined;
  if (msg.ref != null) state.refs.delete(msg.ref);
  const shown = errorShownNear(ref, text);
  if (!shown) status('errorMessage', { message: text }, 'error');
}

// ---------------------------------------------------------------- desk hours, zone, booking
// Everything here is HTTP with the invite token in the Authorization header. Times come from
// the hub as pairs: the applicant's wall clock in their zone and Beijing's, each with its UTC
// offset ("2026-11-30 08:00", "+00:00"), so what the page shows is what the hub will keep.

const DEFAULT_EARLIEST = '08:00';
const DEFAULT_LATEST = '21:00';
/** Offered in the zone field (any IANA zone may be typed; the hub validates it). */
const COMMON_ZONES = [
  'Europe/Lisbon',
  'Europe/London',
  'Europe/Madrid',
  'Europe/Paris',
  'Europe/Rome',
  'America/New_York',
  'America/Sao_Paulo',
  'Africa/Johannesburg',
  'Asia/Dubai',
  'Australia/Sydney',
  'Asia/Shanghai',
];

const plan = {
  /** The case as `GET /api/applicant/case` gave it; null until loaded (or if unavailable). */
  case: null,
  /** Live bookings of the case (status booked, not yet over), earliest first. */
  bookings: [],
  /** The last `GET /api/applicant/slots` answer. */
  slots: null,
  /** idle | loading | ready | empty | error. */
  slotsState: 'idle',
  slotsError: '',
  slotsGen: 0,
  /** The slot (TimePair) picked and not yet confirmed. */
  chosen: null,
  rescheduling: false,
  busy: false,
  desk: null,
  deskTimer: null,
  /** Days (applicant's local date) the applicant unfolded; null = none touched yet. */
  openDays: null,
};

function applicantApi(path, opts = {}) {
  return fetchJson(path, {
    ...opts,
    headers: { Authorization: `Invite ${state.token}`, ...(opts.headers || {}) },
  });
}

const hhmm = (shown) => String((shown && shown.local) || '').slice(11, 16);
const localDate = (shown) => String((shown && shown.local) || '').slice(0, 10);
const offsetText = (shown) => `UTC${(shown && shown.utc_offset) || ''}`;
const cityOf = (shown) => (shown && (shown.city || cityOfZone(shown.zone))) || '';

function longDate(iso, tz) {
  return formatIn(new Date(iso), tz, currentLanguage(), { weekday: 'long', day: 'numeric', month: 'long' });
}

function shortDate(iso, tz) {
  return formatIn(new Date(iso), tz, currentLanguage(), { weekday: 'short', day: 'numeric', month: 'short' });
}

/** "Monday 30 November, 08:00" in the page's language. */
function whenText(iso, tz) {
  return formatIn(new Date(iso), tz, currentLanguage(), {
    weekday: 'long',
    day: 'numeric',
    month: 'long',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  });
}

/** "08:00 (UTC+00:00)" */
function slotLocalText(pair) {
  return `${hhmm(pair.applicant)} (${offsetText(pair.applicant)})`;
}

/** "16:00 (UTC+08:00)", with the date when Beijing is on another day than the applicant. */
function officeTimeText(pair) {
  const day = localDate(pair.office) !== localDate(pair.applicant) ? `${shortDate(pair.start, pair.office.zone)} ` : '';
  return `${day}${hhmm(pair.office)} (${offsetText(pair.office)})`;
}

/** "Beijing 16:00 (UTC+08:00)" in the page's language. */
function slotOfficeText(pair) {
  return t('slotOffice', { time: officeTimeText(pair) });
}

function isPair(p) {
  return !!(p && typeof p.start === 'string' && p.applicant && p.office && p.applicant.local && p.office.local);
}

function liveBookings(list) {
  const now = Date.now();
  return (Array.isArray(list) ? list : [])
    .filter((b) => b && b.status === 'booked' && isPair(b.time) && new Date(b.ends_at).getTime() > now)
    .sort((a, b) => new Date(a.starts_at) - new Date(b.starts_at));
}

function currentBooking() {
  return plan.bookings[0] || null;
}

function caseZone() {
  const tz = plan.case && plan.case.applicant_tz;
  return tz && isValidZone(tz) ? tz : viewerZone();
}

function caseHours() {
  const ok = (v) => typeof v === 'string' && /^\d\d:\d\d$/.test(v);
  const c = plan.case || {};
  return {
    earliest: ok(c.applicant_earliest) ? c.applicant_earliest : DEFAULT_EARLIEST,
    latest: ok(c.applicant_latest) ? c.applicant_latest : DEFAULT_LATEST,
  };
}

/** The booking part shows while the applicant is not in a call and the case was loaded. */
function planningVisible() {
  // Not while an officer has the applicant in the waiting room: desk hours and slots are moot.
  const inLobby = state.lobby === 'waiting' || state.lobby === 'admitted';
  return !!plan.case && !state.fatal && !inLobby && els.stepCall.hidden && els.stepReceipt.hidden;
}

function statusLine(el, key, vars, kind, stateName, code) {
  setI18n(el, key, vars);
  el.className = 'status' + (kind ? ` is-${kind}` : '');
  el.dataset.kind = kind || 'info';
  if (stateName) el.dataset.state = stateName;
  else delete el.dataset.state;
  if (code) el.dataset.code = code;
  else delete el.dataset.code;
}

function bookingStatus(key, vars = {}, kind = '', stateName = '', code = '') {
  statusLine(els.bookingStatus, key, vars, kind, stateName, code);
}

function prefStatus(key, vars = {}, kind = '', stateName = '', code = '') {
  statusLine(els.prefStatus, key, vars, kind, stateName, code);
}

async function loadCase() {
  const res = await applicantApi('/api/applicant/case');
  plan.case = (res && res.case) || null;
  plan.bookings = liveBookings(res && res.bookings);
}

/** Reload the case and its bookings; a failure keeps what is shown. */
async function refreshCase() {
  try {
    await loadCase();
  } catch (err) {
    bookingStatus('errorMessage', { message: err.message }, 'error', 'error', err.code);
  }
}

async function startPlanning() {
  try {
    await loadCase();
  } catch {
    // 401: the signalling socket reports the invite problem; 404 or network: the page still
    // works as a walk-in queue, without booking.
    return;
  }
  fillPrefsForm();
  renderPlanning();
  loadDesk();
  if (!currentBooking()) loadSlots();
}

function renderPlanning() {
  const visible = planningVisible();
  els.booking.hidden = !visible;
  els.prefs.hidden = !visible;
  renderDesk();
  renderTzOffer();
  if (!visible) return;
  renderPrefsSummary();
  renderCurrentBooking();
  renderSlots();
}

// ---- desk hours

async function loadDesk() {
  clearTimeout(plan.deskTimer);
  try {
    plan.desk = await applicantApi('/api/applicant/desk');
  } catch {
    plan.desk = null;
  }
  renderDesk();
  // Look again once, just after the announced opening (no polling in between).
  const next = plan.desk && !plan.desk.open && plan.desk.next_opening;
  if (next && next.utc) {
    const ms = new Date(next.utc).getTime() - Date.now() + 5000;
    if (ms > 0 && ms < 2 ** 31 - 1) plan.deskTimer = setTimeout(loadDesk, ms);
  }
}

function renderDesk() {
  const d = plan.desk;
  const el = els.deskStatus;
  if (!d || !planningVisible()) {
    el.hidden = true;
    return;
  }
  el.hidden = false;
  const n = d.next_opening;
  if (d.open) {
    statusLine(el, 'deskOpen', {}, 'ok', 'open');
    delete el.dataset.opens;
  } else if (n && n.utc && n.applicant && n.office) {
    statusLine(
      el,
      'deskClosed',
      {
        applicant: whenText(n.utc, n.applicant.zone),
        office: whenText(n.utc, n.office.zone || OFFICE_TZ),
        city: cityOf(n.applicant),
      },
      'warn',
      'closed',
    );
    el.dataset.opens = n.utc;
  } else {
    statusLine(el, 'deskClosedUnknown', {}, 'warn', 'closed');
    delete el.dataset.opens;
  }
}

// ---- the device's zone against the case's

function tzKeepKey() {
  return `globallink.tzKeep.${plan.case ? plan.case.id : ''}`;
}

function tzKept() {
  try {
    return sessionStorage.getItem(tzKeepKey()) === plan.case.applicant_tz;
  } catch {
    return false;
  }
}

function renderTzOffer() {
  const c = plan.case;
  const device = viewerZone();
  const offer =
    planningVisible() && isValidZone(device) && c && device !== c.applicant_tz && !tzKept() && !plan.busy;
  els.tzOffer.hidden = !offer;
  if (!offer) return;
  els.tzOffer.dataset.deviceZone = device;
  els.tzOffer.dataset.caseZone = c.applicant_tz;
  setI18n(els.tzOfferText, 'tzMismatch', {
    deviceCity: cityOfZone(device),
    deviceZone: device,
    caseCity: cityOfZone(c.applicant_tz),
    caseZone: c.applicant_tz,
  });
  setI18n(els.tzOfferUse, 'tzUse', { city: cityOfZone(device) });
  setI18n(els.tzOfferKeep, 'tzKeep', { city: cityOfZone(c.applicant_tz) });
}

function useDeviceZone() {
  if (!plan.case) return;
  const { earliest, latest } = caseHours();
  savePreferences(
    { tz: viewerZone(), earliest, latest, lang: plan.case.applicant_lang || currentLanguage() },
    { fromOffer: true },
  );
}

function keepCaseZone() {
  try {
    sessionStorage.setItem(tzKeepKey(), plan.case.applicant_tz);
  } catch {
    /* storage blocked: hidden for this page view only */
  }
  els.tzOffer.hidden = true;
}

// ---- "My time and hours"

function fillPrefsForm() {
  const c = plan.case;
  if (!c) return;
  const { earliest, latest } = caseHours();
  els.prefTz.value = c.applicant_tz || viewerZone();
  els.prefEarliest.value = earliest;
  els.prefLatest.value = latest;
  els.prefLang.value = LANGUAGES.some((l) => l.code === c.applicant_lang) ? c.applicant_lang : currentLanguage();
}

function fillZoneOptions() {
  const zones = [...new Set([viewerZone(), ...COMMON_ZONES])].filter(isValidZone);
  const now = new Date();
  els.tzOptions.replaceChildren(
    ...zones.map((tz) => h('option', { value: tz, label: `${cityOfZone(tz)} (${utcOffsetText(now, tz)})` })),
  );
}

function renderPrefsSummary() {
  const tz = caseZone();
  const { earliest, latest } = caseHours();
  setI18n(els.prefsSummary, 'prefsSummary', {
    city: cityOfZone(tz),
    offset: utcOffsetText(new Date(), tz),
    earliest,
    latest,
  });
  setI18n(els.prefTzHint, 'prefsZoneHint', { zone: viewerZone() });
}

/** `<input type=time>` may carry seconds; the hub wants HH:MM. */
function timeValue(input) {
  const v = input.value.trim();
  return /^\d\d:\d\d/.test(v) ? v.slice(0, 5) : v;
}

function submitPrefs(ev) {
  ev.preventDefault();
  savePreferences({
    tz: els.prefTz.value.trim(),
    earliest: timeValue(els.prefEarliest),
    latest: timeValue(els.prefLatest),
    lang: els.prefLang.value,
  });
}

/** PUT the preferences; the hub validates them and its message is shown as is on 400. */
async function savePreferences(body, { fromOffer = false } = {}) {
  els.prefSave.disabled = true;
  els.tzOfferUse.disabled = true;
  prefStatus('prefsSaving', {}, '', 'saving');
  try {
    await applicantApi('/api/applicant/preferences', { method: 'PUT', json: body });
  } catch (err) {
    prefStatus('prefsError', { message: err.message }, 'error', 'error', err.code);
    if (fromOffer) bookingStatus('prefsError', { message: err.message }, 'error', 'error', err.code);
    return false;
  } finally {
    els.prefSave.disabled = false;
    els.tzOfferUse.disabled = false;
  }
  const previousLang = plan.case ? plan.case.applicant_lang : null;
  await refreshCase();
  fillPrefsForm();
  prefStatus('prefsSaved', { city: cityOfZone(body.tz), earliest: body.earliest, latest: body.latest }, 'ok', 'saved');
  if (fromOffer) bookingStatus('tzUpdated', { zone: body.tz }, 'ok', 'zone');
  if (previousLang && body.lang !== previousLang && body.lang !== currentLanguage()) {
    // The applicant chose another language for the appointment: show the page in it too.
    els.langSelect.value = setLanguage(body.lang, { remember: true });
  }
  plan.chosen = null;
  renderDynamic();
  loadDesk();
  loadSlots();
  return true;
}

// ---- bookings

function renderCurrentBooking() {
  const b = currentBooking();
  els.bookingCurrent.hidden = !b;
  if (!b) {
    delete els.bookingCurrent.dataset.bookingId;
    delete els.bookingCurrent.dataset.start;
    return;
  }
  const a = b.time.applicant;
  const o = b.time.office;
  els.bookingCurrent.dataset.bookingId = b.id;
  els.bookingCurrent.dataset.start = b.starts_at;
  setI18n(els.bookingWhen, 'bookingWhen', {
    date: longDate(b.starts_at, a.zone),
    time: hhmm(a),
    offset: offsetText(a),
    city: cityOf(a),
  });
  setI18n(els.bookingWhenOffice, 'bookingWhenOffice', {
    date: longDate(b.starts_at, o.zone || OFFICE_TZ),
    time: hhmm(o),
    offset: offsetText(o),
  });
  els.bookingIcs.disabled = plan.busy;
  els.bookingReschedule.disabled = plan.busy || plan.rescheduling;
  els.bookingCancel.disabled = plan.busy;
}

function renderSlots() {
  const booked = !!currentBooking();
  const showList = !booked || plan.rescheduling;
  els.slotsBox.hidden = !showList;
  els.rescheduleKeep.hidden = !(booked && plan.rescheduling);
  els.rescheduleKeep.disabled = plan.busy;
  if (!showList) return;
  const zone = (plan.slots && plan.slots.applicant_zone) || caseZone();
  setI18n(els.slotsHeading, 'slotsHeading', { city: cityOfZone(zone) });
  const { earliest, latest } = caseHours();
  els.slotList.dataset.state = plan.slotsState;
  els.slotList.setAttribute('aria-busy', String(plan.slotsState === 'loading'));
  switch (plan.slotsState) {
    case 'loading':
      setI18n(els.slotsNote, 'slotsLoading');
      break;
    case 'error':
      setI18n(els.slotsNote, 'slotsError', { message: plan.slotsError });
      break;
    case 'empty':
      setI18n(els.slotsNote, 'slotsNone', { earliest, latest });
      break;
    default:
      setI18n(els.slotsNote, 'slotsNote', { earliest, latest });
  }
  const list = plan.slots && plan.slotsState !== 'error' && plan.slotsState !== 'empty' ? plan.slots.slots : [];
  const days = new Map();
  for (const p of list) {
    const d = localDate(p.applicant);
    if (!days.has(d)) days.set(d, []);
    days.get(d).push(p);
  }
  const chosenDay = plan.chosen ? localDate(plan.chosen.applicant) : null;
  const wanted = (date) => (plan.openDays && plan.openDays.has(date)) || date === chosenDay;
  // The first day is unfolded unless one the applicant opened (or their choice) is still listed.
  const firstOpen = ![...days.keys()].some(wanted);
  let first = true;
  const groups = [];
  for (const [date, pairs] of days) {
    const open = wanted(date) || (first && firstOpen);
    first = false;
    const group = h(
      'details',
      { class: 'slot-day', open, dataset: { testid: 'slot-day', date } },
      h(
        'summary',
        {},
        h('span', { class: 'slot-day-name' }, longDate(pairs[0].start, pairs[0].applicant.zone)),
        ' ',
        h('span', { class: 'badge' }, t('slotsCount', { count: pairs.length })),
      ),
      h('ul', { class: 'slot-grid' }, pairs.map((p) => h('li', {}, slotButton(p)))),
    );
    group.addEventListener('toggle', () => {
      if (!plan.openDays) plan.openDays = new Set();
      if (group.open) plan.openDays.add(date);
      else plan.openDays.delete(date);
    });
    groups.push(group);
  }
  els.slotList.replaceChildren(...groups);
  els.slotList.dataset.count = String(list.length);
  renderChoice();
}

function slotButton(pair) {
  const chosen = !!plan.chosen && plan.chosen.start === pair.start;
  const button = h(
    'button',
    {
      type: 'button',
      class: 'slot',
      'aria-pressed': String(chosen),
      disabled: plan.busy || plan.slotsState === 'loading',
      dataset: { testid: 'slot', start: pair.start, local: pair.applicant.local, office: pair.office.local },
    },
    h('span', { class: 'slot-local' }, slotLocalText(pair)),
    h('span', { class: 'slot-sep', 'aria-hidden': 'true' }, ' · '),
    h('span', { class: 'slot-office' }, slotOfficeText(pair)),
  );
  button.addEventListener('click', () => chooseSlot(pair));
  return button;
}

function chooseSlot(pair) {
  plan.chosen = pair;
  for (const b of els.slotList.querySelectorAll('button.slot')) {
    b.setAttribute('aria-pressed', String(b.dataset.start === pair.start));
  }
  renderChoice();
}

function renderChoice() {
  const p = plan.chosen;
  els.slotChoice.hidden = !p;
  if (!p) {
    delete els.slotChoice.dataset.start;
    return;
  }
  els.slotChoice.dataset.start = p.start;
  setI18n(els.slotChoiceText, 'slotChosen', {
    date: longDate(p.start, p.applicant.zone),
    time: slotLocalText(p),
    city: cityOf(p.applicant),
    office: officeTimeText(p),
  });
  setI18n(els.slotConfirm, plan.rescheduling && currentBooking() ? 'rescheduleConfirm' : 'bookConfirm');
  els.slotConfirm.disabled = plan.busy;
}

async function loadSlots() {
  const gen = ++plan.slotsGen;
  plan.slotsState = 'loading';
  renderSlots();
  try {
    const res = await applicantApi('/api/applicant/slots?days=14');
    if (gen !== plan.slotsGen) return;
    const slots = res && Array.isArray(res.slots) ? res.slots.filter(isPair) : [];
    plan.slots = { ...res, slots };
    plan.slotsState = slots.length ? 'ready' : 'empty';
    if (plan.chosen && !slots.some((p) => p.start === plan.chosen.start)) plan.chosen = null;
  } catch (err) {
    if (gen !== plan.slotsGen) return;
    plan.slotsState = 'error';
    plan.slotsError = err.message;
  }
  els.slotList.dataset.loaded = String(gen);
  renderSlots();
}

function setBusy(busy) {
  plan.busy = busy;
  renderCurrentBooking();
  for (const b of els.slotList.querySelectorAll('button.slot')) b.disabled = busy;
  els.slotConfirm.disabled = busy;
  els.rescheduleKeep.disabled = busy;
}

async function confirmSlot() {
  const pair = plan.chosen;
  if (!pair || plan.busy) return;
  const old = plan.rescheduling ? currentBooking() : null;
  setBusy(true);
  bookingStatus('bookingWorking', {}, '', 'working');
  let booking;
  try {
    booking = old
      ? await applicantApi(`/api/applicant/bookings/${encodeURIComponent(old.id)}/reschedule`, { json: { start: pair.start } })
      : await applicantApi('/api/applicant/bookings', { json: { start: pair.start } });
  } catch (err) {
    setBusy(false);
    await onBookingError(err);
    return;
  }
  plan.bookings = liveBookings([booking]);
  plan.rescheduling = false;
  plan.chosen = null;
  setBusy(false);
  bookingStatus(old ? 'bookingMoved' : 'bookingDone', {}, 'ok', old ? 'moved' : 'booked');
  renderPlanning();
  els.bookingCurrent.scrollIntoView({ block: 'nearest', behavior: 'smooth' });
  els.bookingCurrentHeading.focus({ preventScroll: true });
}

/** 409s are expected under concurrency: say so kindly and show what is true now. */
async function onBookingError(err) {
  plan.chosen = null;
  if (err.status === 409 && err.code === 'slot_unavailable') {
    bookingStatus('slotTaken', {}, 'warn', 'conflict', err.code);
    await loadSlots();
  } else if (err.status === 409 && err.code === 'already_booked') {
    plan.rescheduling = false;
    bookingStatus('alreadyBooked', {}, 'warn', 'conflict', err.code);
    await refreshCase();
    renderPlanning();
  } else if (err.status === 409 || err.status === 404) {
    plan.rescheduling = false;
    bookingStatus('bookingGone', {}, 'warn', 'conflict', err.code);
    await refreshCase();
    renderPlanning();
    if (!currentBooking()) await loadSlots();
  } else {
    bookingStatus('errorMessage', { message: err.message }, 'error', 'error', err.code);
    renderPlanning();
  }
}

function startReschedule() {
  if (!currentBooking()) return;
  plan.rescheduling = true;
  plan.chosen = null;
  bookingStatus('bookingRescheduleIntro', {}, '', 'rescheduling');
  renderPlanning();
  loadSlots();
  els.slotsHeading.focus({ preventScroll: true });
  els.slotsBox.scrollIntoView({ block: 'start', behavior: 'smooth' });
}

function keepCurrentTime() {
  plan.rescheduling = false;
  plan.chosen = null;
  bookingStatus(null);
  renderPlanning();
  els.bookingCurrentHeading.focus();
}

function askCancel() {
  const b = currentBooking();
  if (!b) return;
  const a = b.time.applicant;
  els.cancelDialog.dataset.bookingId = b.id;
  setI18n(els.cancelQuestion, 'cancelQuestion', {
    time: `${longDate(b.starts_at, a.zone)}, ${hhmm(a)} (${cityOf(a)})`,
  });
  if (!els.cancelDialog.open) els.cancelDialog.showModal();
  els.cancelKeep.focus();
}

async function confirmCancel() {
  const id = els.cancelDialog.dataset.bookingId;
  els.cancelDialog.close();
  if (!id || plan.busy) return;
  setBusy(true);
  bookingStatus('sending', {}, '', 'working');
  try {
    await applicantApi(`/api/applicant/bookings/${encodeURIComponent(id)}`, { method: 'DELETE' });
  } catch (err) {
    setBusy(false);
    await onBookingError(err);
    return;
  }
  plan.bookings = plan.bookings.filter((b) => b.id !== id);
  plan.rescheduling = false;
  setBusy(false);
  bookingStatus('bookingCancelled', {}, 'ok', 'cancelled');
  renderPlanning();
  loadSlots();
}

/** Fetch the .ics with the token in the header, then save the blob (no URL carries the token). */
async function downloadIcs() {
  const b = currentBooking();
  if (!b) return;
  els.bookingIcs.disabled = true;
  try {
    let res;
    try {
      res = await fetch(`/api/applicant/bookings/${encodeURIComponent(b.id)}/invite.ics`, {
        credentials: 'same-origin',
        headers: { Authorization: `Invite ${state.token}`, Accept: 'text/calendar' },
      });
    } catch (e) {
      throw new ApiError(0, 'network', e && e.message ? e.message : String(e));
    }
    if (!res.ok) {
      let body = null;
      try {
        body = await res.json();
      } catch {
        body = null;
      }
      throw new ApiError(res.status, body && body.code, (body && body.message) || `${res.status} ${res.statusText}`);
    }
    const data = await res.blob();
    downloadBlob('globallink-appointment.ics', new Blob([data], { type: 'text/calendar;charset=utf-8' }));
    bookingStatus('bookingIcsSaved', {}, 'ok', 'ics');
  } catch (err) {
    if (err.status === 404 || err.status === 409) await onBookingError(err);
    else bookingStatus('errorMessage', { message: err.message }, 'error', 'error', err.code);
  } finally {
    els.bookingIcs.disabled = plan.busy;
  }
}

function setupPlanning() {
  fillZoneOptions();
  els.slotsHeading.tabIndex = -1;
  els.prefsForm.addEventListener('submit', submitPrefs);
  els.tzOfferUse.addEventListener('click', useDeviceZone);
  els.tzOfferKeep.addEventListener('click', keepCaseZone);
  els.slotConfirm.addEventListener('click', confirmSlot);
  els.bookingIcs.addEventListener('click', downloadIcs);
  els.bookingReschedule.addEventListener('click', startReschedule);
  els.rescheduleKeep.addEventListener('click', keepCurrentTime);
  els.bookingCancel.addEventListener('click', askCancel);
  els.cancelConfirm.addEventListener('click', confirmCancel);
  els.cancelKeep.addEventListener('click', () => els.cancelDialog.close());
}

// ---------------------------------------------------------------- start

function readToken() {
  const params = new URLSearchParams(location.hash.replace(/^#/, ''));
  // `#t=` is an applicant's invite; `#g=` a guest's link from the officer.
  state.guest = !params.get('t') && !!params.get('g');
  const token = params.get('t') || params.get('g');
  return token && token.trim() ? token.trim() : null;
}

function main() {
  setupLanguage();
  tickOfficeTime();
  setInterval(tickOfficeTime, 15000);
  loadCatalogue();

  els.deviceStart.addEventListener('click', startDeviceCheck);
  els.joinQueue.addEventListener('click', joinQueue);
  els.leaveQueue.addEventListener('click', leaveQueue);
  els.consentAccept.addEventListener('click', () => answerConsent(true));
  els.consentDecline.addEventListener('click', () => answerConsent(false));
  els.livenessDone.addEventListener('click', livenessDone);
  els.declarationConfirm.addEventListener('click', confirmDeclaration);
  els.myConsentsShow.addEventListener('click', requestMyConsents);
  els.myConsentsDownload.addEventListener('click', downloadMyConsents);
  els.withdrawConfirm.addEventListener('click', confirmWithdraw);
  els.withdrawCancel.addEventListener('click', () => els.withdrawDialog.close());
  // Escape must not silently drop a consent request: keep the dialog, or offer to reopen it.
  els.consentDialog.addEventListener('cancel', (ev) => ev.preventDefault());
  els.consentDialog.addEventListener('close', () => {
    if (state.pendingConsent) els.consentReopen.hidden = false;
  });
  els.consentReopen.addEventListener('click', () => {
    if (state.pendingConsent && !els.consentDialog.open) {
      els.consentReopen.hidden = true;
      els.consentDialog.showModal();
      els.consentTitle.focus();
    }
  });
  els.enableSound.addEventListener('click', () => {
    if (state.resumeSound) state.resumeSound().catch(() => {});
    els.enableSound.hidden = true;
  });
  els.receiptSave.addEventListener('click', saveReceipt);
  // A new invite pasted into the address bar reloads the page; an in-page anchor (the skip
  // link) must neither reload nor drop the token from the address.
  window.addEventListener('hashchange', () => {
    const token = readToken();
    if (token && token !== state.token) location.reload();
  });
  const skip = document.querySelector('.skip-link');
  if (skip) {
    skip.addEventListener('click', (ev) => {
      ev.preventDefault();
      $('#main').focus();
    });
  }
  setupPlanning();
  // The lock is dropped whenever the page is hidden; take it again when it comes back.
  document.addEventListener('visibilitychange', () => {
    if (state.wantWake && document.visibilityState === 'visible') keepAwake(true);
  });
  window.addEventListener('pagehide', (ev) => {
    // Leaving for good closes the socket at once; a page kept in the back-forward cache
    // reconnects by itself when shown again (the hub keeps the session for a while).
    if (state.link && !ev.persisted) state.link.stop();
  });

  state.token = readToken();
  if (!state.token) {
    fatal('noToken');
    return;
  }
  document.body.dataset.state = 'devices';
  if (state.guest) document.body.dataset.guest = 'true';
  applyTranslations();
  connect();
  // Planning belongs to the applicant's case; a guest's link opens one session only.
  if (!state.guest) startPlanning();
}

main();
