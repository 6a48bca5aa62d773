// Applicant page (/join#t=TOKEN): device check → signalling auth with the invite → queue →
// video call with the hub → consent → receipt. The token stays in the URL fragment, which the
// browser never sends to the server.

import {
  $,
  connectSignal,
  createPeer,
  downloadText,
  fetchJson,
  mediaErrorKind,
  openCamera,
  playStream,
  stopStream,
  OFFICE_TZ,
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
  queueKeepOpen: $('#queue-keep-open'),
  joinQueue: $('#join-queue'),
  leaveQueue: $('#leave-queue'),
  stepCall: $('#step-call'),
  callStatus: $('#call-status'),
  remoteVideo: $('#remote-video'),
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
  consentDialog: $('#consent-dialog'),
  consentText: $('#consent-text'),
  consentAccept: $('#consent-accept'),
  consentDecline: $('#consent-decline'),
};

/** Everything the page knows; one object so the flow is easy to follow. */
const state = {
  token: null,
  conn: null,
  /** The signalling socket opened at least once. */
  opened: false,
  welcomed: false,
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
  pendingConsent: null,
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
    const opt = document.createElement('option');
    opt.value = code;
    opt.textContent = label;
    opt.lang = code;
    els.langSelect.append(opt);
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
  tickOfficeTime();
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
}

function show(step) {
  for (const s of [els.stepDevices, els.stepQueue, els.stepCall, els.stepReceipt]) s.hidden = s !== step;
  document.body.dataset.state = step.id.replace('step-', '');
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
  state.conn = connectSignal({
    onOpen: (conn) => {
      state.opened = true;
      conn.send({ type: 'auth', invite: state.token }, { withId: false });
    },
    onMessage: handleMessage,
    onClose: handleClose,
  });
}

function handleClose() {
  state.conn = null;
  endCall();
  keepAwake(false);
  if (state.fatal || state.closedNormally) return;
  if (!state.welcomed) {
    // Closed right after auth without a word: the hub refused the invite. Never opened: the
    // hub is unreachable, which says nothing about the invite.
    if (state.opened) fatal('inviteInvalid');
    else status('unreachable', {}, 'error');
    return;
  }
  status('disconnected', {}, 'error');
  els.deviceStart.disabled = true;
  els.joinQueue.disabled = true;
  els.leaveQueue.disabled = true;
  document.body.dataset.state = 'disconnected';
}

function send(msg) {
  if (!state.conn) return null;
  return state.conn.send(msg);
}

function handleMessage(msg) {
  switch (msg.type) {
    case 'welcome':
      onWelcome(msg);
      break;
    case 'queue_position':
      onQueuePosition(msg);
      break;
    case 'paired':
      onPaired(msg);
      break;
    case 'answer':
      onAnswer(msg);
      break;
    case 'consent_requested':
      onConsentRequested(msg);
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
    case 'ack':
      // The applicant's own evidence events (consent answers); nothing to show beyond the
      // status already set when the answer was sent.
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
  setI18n(els.greeting, 'greeting', { name: state.name });
  setI18n(els.serviceLine, 'serviceLine', { service: serviceName(state.service, state.catalogue) });
  els.serviceLine.hidden = !state.service;
  els.welcome.hidden = false;
  maybeOpenQueue();
}

/** Step 2 opens when both the hub's welcome and the device check are done. */
function maybeOpenQueue() {
  if (!state.welcomed || !state.devicesOk || state.fatal) return;
  if (!els.stepQueue.hidden || !els.stepCall.hidden || !els.stepReceipt.hidden) return;
  stopMeter();
  show(els.stepQueue);
  els.joinQueue.hidden = false;
  els.joinQueue.disabled = false;
  els.leaveQueue.hidden = true;
  els.joinQueue.focus();
}

function joinQueue() {
  els.joinQueue.disabled = true;
  keepAwake(true);
  setI18n(els.queuePosition, 'queueJoining');
  state.joinId = send({ type: 'join_queue' });
}

function leaveQueue() {
  send({ type: 'leave_queue' });
  els.leaveQueue.hidden = true;
  els.joinQueue.hidden = false;
  els.joinQueue.disabled = false;
  els.queueKeepOpen.hidden = true;
  delete els.queuePosition.dataset.position;
  delete els.queuePosition.dataset.length;
  setI18n(els.queuePosition, 'queueLeft');
  keepAwake(false);
  els.joinQueue.focus();
}

function onQueuePosition(msg) {
  const position = Number(msg.position);
  const length = Number(msg.length);
  els.queuePosition.dataset.position = String(position);
  els.queuePosition.dataset.length = String(length);
  setI18n(els.queuePosition, 'queuePosition', { position, length });
  els.queueKeepOpen.hidden = false;
  els.joinQueue.hidden = true;
  const hadFocus = document.activeElement === els.joinQueue;
  els.leaveQueue.hidden = false;
  els.leaveQueue.disabled = false;
  if (hadFocus) els.leaveQueue.focus();
}

// ---------------------------------------------------------------- the call

async function onPaired(msg) {
  state.peerName = (msg.peer && msg.peer.name) || '';
  show(els.stepCall);
  els.stepCall.dataset.sessionId = msg.session_id || '';
  setI18n(els.callStatus, 'callConnecting');
  els.localVideo.srcObject = state.localStream;
  els.localVideo.play().catch(() => {});
  try {
    if (state.peer) state.peer.close();
    state.peer = await createPeer(state.localStream, (stream) => {
      playStream(els.remoteVideo, stream, (resume) => {
        state.resumeSound = resume;
        els.enableSound.hidden = false;
      });
    });
  } catch (err) {
    setI18n(els.callStatus, 'mediaFailed', { message: err && err.message ? err.message : String(err) });
    return;
  }
  const pc = state.peer.pc;
  pc.addEventListener('connectionstatechange', () => {
    els.stepCall.dataset.connection = pc.connectionState;
    if (pc.connectionState === 'connected') {
      setI18n(els.callStatus, 'callWith', { name: state.peerName });
    } else if (pc.connectionState === 'failed') {
      setI18n(els.callStatus, 'callFailed');
    }
  });
  send({ type: 'offer', sdp: state.peer.sdp });
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
  if (msg.role === 'applicant') return;
  if (msg.state === 'left' || msg.state === 'disconnected') setI18n(els.callStatus, 'peerLeft');
  else if (msg.state === 'joined') setI18n(els.callStatus, 'peerJoined');
}

function onRecording(msg) {
  const active = !!msg.active;
  els.recordingIndicator.hidden = !active;
  els.stepCall.dataset.recording = String(active);
  setI18n(els.recordingStatus, active ? 'recordingOn' : 'recordingOff');
}

function endCall() {
  if (state.peer) {
    state.peer.close();
    state.peer = null;
  }
  els.remoteVideo.srcObject = null;
  els.localVideo.srcObject = null;
  els.recordingIndicator.hidden = true;
  els.enableSound.hidden = true;
  if (els.consentDialog.open) els.consentDialog.close();
  els.consentReopen.hidden = true;
  state.pendingConsent = null;
}

// ---------------------------------------------------------------- consent

function onConsentRequested(msg) {
  state.pendingConsent = msg;
  els.consentText.textContent = msg.text || '';
  if (msg.lang) els.consentText.lang = msg.lang;
  els.consentDialog.dataset.consent = msg.consent || '';
  els.consentReopen.hidden = true;
  if (!els.consentDialog.open) els.consentDialog.showModal();
}

function answerConsent(granted) {
  const req = state.pendingConsent;
  if (!req) return;
  state.pendingConsent = null;
  send({ type: 'consent_answer', consent: req.consent, granted });
  els.consentDialog.close();
  els.consentReopen.hidden = true;
  setI18n(els.recordingStatus, granted ? 'consentGiven' : 'consentRefused');
}

// ---------------------------------------------------------------- receipt

function onSessionClosed(msg) {
  state.closedNormally = true;
  state.receipt = {
    sessionId: msg.session_id || '',
    artefactId: msg.artefact_id || '',
    manifest: msg.manifest_sha256 || '',
    outcome: msg.outcome || '',
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
  if (state.conn) state.conn.close();
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
  setI18n(els.receiptIntro, interrupted ? 'receiptInterrupted' : sealed ? 'receiptIntro' : 'receiptNone');
  els.receiptRowArtefact.hidden = !sealed;
  els.receiptRowHash.hidden = !r.manifest;
  els.receiptArtefact.textContent = r.artefactId;
  els.receiptHash.textContent = r.manifest;
  els.receiptSession.textContent = r.sessionId;
  els.receiptOutcome.textContent = outcomeText(r.outcome, currentLanguage());
  els.receiptClosed.textContent = closedAtText(currentLanguage());
  els.receiptSave.hidden = !sealed;
}

/** "completed" → "Concluída"; unknown outcomes are shown as sent. */
function outcomeText(outcome, lang) {
  const key = { completed: 'outcomeCompleted', interrupted: 'outcomeInterrupted' }[outcome];
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
  if (!state.welcomed) {
    // Refused before `welcome`: a hub-side hiccup says nothing about the invite; anything
    // else means the invite itself was refused.
    if (/^(internal|rate_limited|unavailable|too_many)/.test(code)) {
      state.fatal = true;
      status('tryLater', { message: text }, 'error');
    } else {
      fatal(/expire/i.test(code) || /expire/i.test(text) ? 'inviteExpired' : 'inviteInvalid');
    }
    if (state.conn) state.conn.close();
    return;
  }
  if (msg.ref != null && msg.ref === state.joinId) {
    els.joinQueue.disabled = false;
    setI18n(els.queuePosition, null);
  }
  status('errorMessage', { message: text }, 'error');
}

// ---------------------------------------------------------------- start

function readToken() {
  const params = new URLSearchParams(location.hash.replace(/^#/, ''));
  const token = params.get('t');
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
  // Escape must not silently drop a consent request: keep the dialog, or offer to reopen it.
  els.consentDialog.addEventListener('cancel', (ev) => ev.preventDefault());
  els.consentDialog.addEventListener('close', () => {
    if (state.pendingConsent) els.consentReopen.hidden = false;
  });
  els.consentReopen.addEventListener('click', () => {
    if (state.pendingConsent && !els.consentDialog.open) {
      els.consentReopen.hidden = true;
      els.consentDialog.showModal();
    }
  });
  els.enableSound.addEventListener('click', () => {
    if (state.resumeSound) state.resumeSound().catch(() => {});
    els.enableSound.hidden = true;
  });
  els.receiptSave.addEventListener('click', saveReceipt);
  window.addEventListener('hashchange', () => location.reload());
  // The lock is dropped whenever the page is hidden; take it again when it comes back.
  document.addEventListener('visibilitychange', () => {
    if (state.wantWake && document.visibilityState === 'visible') keepAwake(true);
  });
  window.addEventListener('pagehide', () => {
    if (state.conn) state.conn.close();
  });

  state.token = readToken();
  if (!state.token) {
    fatal('noToken');
    return;
  }
  document.body.dataset.state = 'devices';
  applyTranslations();
  connect();
}

main();
