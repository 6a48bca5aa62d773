// Shared helpers for the globallink pages: HTTP JSON calls, the signalling WebSocket, the
// WebRTC peer (non-trickle offer/answer with the hub), time formatting and small DOM helpers.
// No framework, no innerHTML: every piece of text goes through textContent.

/** Error thrown by fetchJson for a non-2xx answer; carries the hub's `{code, message}`. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || code || `HTTP ${status}`);
    this.name = 'ApiError';
    this.status = status;
    this.code = code || 'http_' + status;
  }
}

/**
 * Call a JSON endpoint of the hub. `opts.json` is sent as the JSON body. Resolves to the parsed
 * body (null for 204), rejects with ApiError carrying the hub's error code and message.
 */
export async function fetchJson(url, opts = {}) {
  const { json, headers, ...rest } = opts;
  const init = {
    credentials: 'same-origin',
    ...rest,
    headers: { Accept: 'application/json', ...(headers || {}) },
  };
  if (json !== undefined) {
    init.body = JSON.stringify(json);
    init.headers['Content-Type'] = 'application/json';
    if (!init.method) init.method = 'POST';
  }
  let res;
  try {
    res = await fetch(url, init);
  } catch (e) {
    throw new ApiError(0, 'network', 'The hub could not be reached: ' + (e && e.message ? e.message : e));
  }
  if (res.status === 204) return null;
  const text = await res.text();
  let body = null;
  if (text) {
    try {
      body = JSON.parse(text);
    } catch {
      body = null;
    }
  }
  if (!res.ok) {
    const code = body && typeof body.code === 'string' ? body.code : undefined;
    const message = body && typeof body.message === 'string' ? body.message : `${res.status} ${res.statusText}`;
    throw new ApiError(res.status, code, message);
  }
  return body;
}

/** Protocol version spoken by these pages (see src/signal/protocol.rs). */
export const PROTOCOL_VERSION = 1;

/** How often the pages ping the hub (it answers `pong`, so a silent socket is noticed). */
const PING_EVERY_MS = 20000;

/**
 * Open the signalling socket at ws(s)://host/ws.
 *
 * Returns `{ send(msg, {withId}), close(), opened, socket }`. `send` wraps the message in the
 * `{v, id, type, ...}` envelope and returns the id it used (echoed by the hub as `ref` in the
 * matching `ack`/`error`). A `ping` goes out every 20 s while the socket is open. `nextId`
 * (optional) hands out the frame ids, so they can keep counting across reconnections.
 */
export function connectSignal({ onMessage, onOpen, onClose, nextId } = {}) {
  const url = new URL('/ws', location.href);
  url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  url.hash = '';
  url.search = '';
  const socket = new WebSocket(url.href);
  let counter = 1;
  const takeId = nextId || (() => counter++);
  let pingTimer = null;

  const conn = {
    socket,
    /** Date.now() of the last frame from the hub (a `pong` counts), or of the open. */
    lastHeard: Date.now(),
    get isOpen() {
      return socket.readyState === WebSocket.OPEN;
    },
    /** Send one message; returns its id, or null when the socket is not open. */
    send(msg, { withId = true } = {}) {
      if (socket.readyState !== WebSocket.OPEN) return null;
      const frame = { v: PROTOCOL_VERSION };
      let id = null;
      if (withId) {
        id = takeId();
        frame.id = id;
      }
      Object.assign(frame, msg);
      socket.send(JSON.stringify(frame));
      return id;
    },
    close(code = 1000, reason = 'bye') {
      clearInterval(pingTimer);
      if (socket.readyState === WebSocket.OPEN || socket.readyState === WebSocket.CONNECTING) {
        socket.close(code, reason);
      }
    },
  };

  conn.opened = new Promise((resolve, reject) => {
    socket.addEventListener('open', () => resolve(conn), { once: true });
    socket.addEventListener('close', () => reject(new Error('the signalling connection closed')), { once: true });
  });
  // Callers that only use the callbacks must not see an unhandled rejection.
  conn.opened.catch(() => {});

  socket.addEventListener('open', () => {
    conn.lastHeard = Date.now();
    pingTimer = setInterval(() => conn.send({ type: 'ping' }, { withId: false }), PING_EVERY_MS);
    if (onOpen) onOpen(conn);
  });
  socket.addEventListener('message', (ev) => {
    conn.lastHeard = Date.now();
    if (typeof ev.data !== 'string') return;
    let msg;
    try {
      msg = JSON.parse(ev.data);
    } catch {
      console.warn('globallink: ignoring a frame that is not JSON');
      return;
    }
    if (!msg || typeof msg.type !== 'string') return;
    if (msg.type === 'pong') return;
    if (onMessage) onMessage(msg, conn);
  });
  socket.addEventListener('close', (ev) => {
    clearInterval(pingTimer);
    if (onClose) onClose(ev, conn);
  });
  return conn;
}

// ---------------------------------------------------------------- reconnecting link

/** First wait before reconnecting; doubled at each failed attempt up to RECONNECT_MAX_MS. */
export const RECONNECT_BASE_MS = 1000;
export const RECONNECT_MAX_MS = 10000;
/** A socket that has not been welcomed within this time is given up and tried again. */
const WELCOME_TIMEOUT_MS = 15000;
/** An open socket the hub has said nothing on for this long (not even `pong`) is dead. */
const SILENCE_TIMEOUT_MS = 50000;
/** Errors that end the link for good: another window took over, or the credential is refused. */
const FINAL_ERRORS = new Set(['moved']);
const AUTH_ERRORS = new Set(['unauthenticated', 'expired']);

/**
 * Wait before reconnection attempt `n` (1-based): 1 s, 2 s, 4 s, 8 s, then 10 s, each with
 * ±20 % jitter (so many phones dropped by one outage do not come back in step), never above
 * 10 s.
 */
export function reconnectDelay(n, random = Math.random) {
  const base = Math.min(RECONNECT_MAX_MS, RECONNECT_BASE_MS * 2 ** Math.max(0, n - 1));
  const jittered = base * (1 + 0.4 * (random() - 0.5));
  return Math.round(Math.max(RECONNECT_BASE_MS / 2, Math.min(RECONNECT_MAX_MS, jittered)));
}

/**
 * The signalling connection of a page, kept alive: on an unexpected close it reconnects with
 * backoff (reconnectDelay) and authenticates again with a fresh frame from `auth()` (the
 * applicant's invite again; a new single-use ticket for an officer). It retries at once when
 * the browser says it is back online (`online` event, or `navigator.onLine` turning true) or
 * the page becomes visible again.
 *
 * It stops for good — no more attempts — when the page calls `stop()` (session closed, page
 * hidden for good, signed out), on an `error` `moved` (another window of the same participant
 * took over), on `unauthenticated`/`expired` before `welcome` (the credential is refused), and
 * when `auth()` throws an error marked `final: true` (e.g. a 401 for the ticket).
 *
 * `onMessage(msg)` gets every hub frame but `pong`. `onState(info)` follows the link:
 *   - `{state: 'connecting', attempt}`: a socket is being opened (attempt 0: the first one);
 *   - `{state: 'up', attempt, resumed}`: `welcome` received (called before `onMessage` gets
 *     it); `resumed` is true when the link had been down (a reconnection);
 *   - `{state: 'down', attempt, delayMs, opened, heard, code, reason, error}`: the socket is
 *     gone (or could not be opened); attempt `attempt` follows in `delayMs`;
 *   - `{state: 'stopped', reason: 'stopped'|'moved'|'refused', code?, message?, error?}`.
 * Every info also carries `everUp` (a welcome was ever received), `reconnects` (how many
 * times the link came back) and `online` (navigator.onLine).
 *
 * The link is exposed as `globalThis.globallinkSignal` for devtools and the browser test
 * (which closes `globallinkSignal.socket` to simulate a dropped connection).
 */
/**
 * Where a `redirect` to the hub node at `url` takes the page at `here` (a Location or URL):
 * the same path, query and fragment under that node. Null for anything but an http(s) URL.
 */
export function redirectTarget(url, here) {
  let base;
  try {
    base = new URL(String(url));
  } catch {
    return null;
  }
  if (base.protocol !== 'https:' && base.protocol !== 'http:') return null;
  const prefix = base.pathname.replace(/\/+$/, '');
  return `${base.origin}${prefix}${here.pathname}${here.search}${here.hash}`;
}

export function keepSignal({ auth, onMessage, onState }) {
  let conn = null;
  /** Bumped for every socket; events of an older socket are ignored. */
  let gen = 0;
  let attempt = 0;
  let retryTimer = null;
  let welcomeTimer = null;
  let watchTimer = null;
  let onlineTimer = null;
  let lastOnline = navigator.onLine;
  let stopped = false;
  /** A welcome arrived on the current socket. */
  let up = false;
  let everUp = false;
  /** The link went down after a welcome and has not come back yet. */
  let wasDown = false;
  let reconnects = 0;
  /** Set by a final error, so the close that follows does not schedule a retry. */
  let finalStop = null;
  /** Frame ids keep counting across sockets, so a `ref` never names two frames of one page. */
  let frameId = 1;
  const nextId = () => frameId++;

  const emit = (state, extra = {}) => {
    if (onState) onState({ state, attempt, everUp, reconnects, online: navigator.onLine, ...extra });
  };

  function clearTimers() {
    clearTimeout(retryTimer);
    clearTimeout(welcomeTimer);
    retryTimer = null;
    welcomeTimer = null;
  }

  /** Forget the current socket (its late events are ignored) and close it. */
  function abandon(code = 4000, reason = 'reconnecting') {
    gen += 1;
    up = false;
    clearTimeout(welcomeTimer);
    welcomeTimer = null;
    const old = conn;
    conn = null;
    if (old) old.close(code, reason);
  }

  async function open() {
    clearTimers();
    if (stopped) return;
    abandon();
    const my = gen;
    emit('connecting');
    let frame;
    try {
      frame = await auth();
    } catch (err) {
      if (my !== gen || stopped) return;
      if (err && err.final) {
        stop('refused', { error: err, code: err.code, message: err.message });
        return;
      }
      down({ error: err, opened: false, heard: false });
      return;
    }
    if (my !== gen || stopped) return;
    let opened = false;
    let heard = false;
    welcomeTimer = setTimeout(() => {
      if (my !== gen || up) return;
      abandon(4000, 'no welcome');
      down({ opened, heard, reason: 'no welcome' });
    }, WELCOME_TIMEOUT_MS);
    conn = connectSignal({
      nextId,
      onOpen: (c) => {
        if (my !== gen) return;
        opened = true;
        c.send(frame, { withId: false });
      },
      onMessage: (msg) => {
        if (my !== gen) return;
        heard = true;
        handle(msg);
      },
      onClose: (ev) => {
        if (my !== gen) return;
        conn = null;
        up = false;
        clearTimeout(welcomeTimer);
        if (stopped) return;
        if (finalStop) {
          const s = finalStop;
          finalStop = null;
          stop(s.reason, s);
          return;
        }
        down({ opened, heard, code: ev.code, reason: ev.reason });
      },
    });
  }

  function handle(msg) {
    if (msg.type === 'welcome') {
      clearTimeout(welcomeTimer);
      welcomeTimer = null;
      const resumed = wasDown;
      if (resumed) reconnects += 1;
      up = true;
      everUp = true;
      wasDown = false;
      attempt = 0;
      stopOnlineWatch();
      emit('up', { resumed });
    } else if (msg.type === 'redirect') {
      // The session is held by another hub node: open this page there (same path and
      // fragment, so the credential goes along).
      const target = redirectTarget(msg.url, location);
      if (target) {
        stop('redirect', { url: target });
        location.assign(target);
        return;
      }
    } else if (msg.type === 'error') {
      const code = String(msg.code || '');
      if (FINAL_ERRORS.has(code)) finalStop = { reason: code, code, message: msg.message || '' };
      else if (!up && AUTH_ERRORS.has(code)) finalStop = { reason: 'refused', code, message: msg.message || '' };
    }
    if (onMessage) onMessage(msg);
    if (finalStop && !stopped) {
      // Do not wait for the hub to close the socket.
      const s = finalStop;
      finalStop = null;
      stop(s.reason, s);
    }
  }

  function down(info) {
    if (stopped) return;
    if (everUp) wasDown = true;
    attempt += 1;
    const delayMs = reconnectDelay(attempt);
    clearTimeout(retryTimer);
    retryTimer = setTimeout(open, delayMs);
    startOnlineWatch();
    emit('down', { delayMs, ...info });
  }

  /** Retry now instead of waiting (back online, page visible again, "Reconnect now"). */
  function retryNow() {
    if (stopped || up) return;
    if (retryTimer) {
      open();
      return;
    }
    // An attempt is under way: restart it only if its socket is still trying to connect
    // (a connection attempt made while offline can hang for a long time).
    if (conn && conn.socket.readyState === WebSocket.CONNECTING) open();
  }

  /** navigator.onLine turning true without an `online` event (some browsers, some networks). */
  function startOnlineWatch() {
    if (onlineTimer) return;
    lastOnline = navigator.onLine;
    onlineTimer = setInterval(() => {
      const now = navigator.onLine;
      if (now && !lastOnline) retryNow();
      lastOnline = now;
    }, 1000);
  }
  function stopOnlineWatch() {
    clearInterval(onlineTimer);
    onlineTimer = null;
  }

  function onOnline() {
    lastOnline = true;
    retryNow();
  }
  function onVisible() {
    if (document.visibilityState === 'visible') retryNow();
  }
  window.addEventListener('online', onOnline);
  document.addEventListener('visibilitychange', onVisible);

  // A connection that died without a close (NAT timeout, radio gone) is only noticed by
  // silence: the page pings every 20 s and the hub answers.
  watchTimer = setInterval(() => {
    if (stopped || !conn || !conn.isOpen) return;
    if (Date.now() - conn.lastHeard > SILENCE_TIMEOUT_MS) {
      const wasOpen = up;
      abandon(4000, 'no answer from the hub');
      down({ opened: true, heard: wasOpen, reason: 'no answer from the hub' });
    }
  }, 5000);

  function stop(reason = 'stopped', extra = {}) {
    if (stopped) return;
    stopped = true;
    clearTimers();
    clearInterval(watchTimer);
    stopOnlineWatch();
    window.removeEventListener('online', onOnline);
    document.removeEventListener('visibilitychange', onVisible);
    abandon(1000, 'bye');
    emit('stopped', { reason, ...extra });
  }

  const link = {
    /** Send one frame on the current socket; its id, or null when not connected. */
    send(msg, opts) {
      return conn && up ? conn.send(msg, opts) : null;
    },
    /** Close for good (no reconnection). */
    stop: (reason) => stop(reason || 'stopped'),
    retryNow,
    /** Drop the current socket and reconnect with backoff (e.g. after a "try later" error). */
    reconnect() {
      if (stopped) return;
      abandon(4000, 'reconnecting');
      down({ opened: true, heard: true, reason: 'reconnect' });
    },
    /** Welcomed on the current socket: frames can be sent. */
    get isUp() {
      return up && !!conn && conn.isOpen;
    },
    get stopped() {
      return stopped;
    },
    get attempt() {
      return attempt;
    },
    get reconnects() {
      return reconnects;
    },
    /** The current WebSocket (null between attempts). */
    get socket() {
      return conn ? conn.socket : null;
    },
  };
  globalThis.globallinkSignal = link;
  open();
  return link;
}

/**
 * Open peer connections, reachable from devtools and the browser test as
 * `globalThis.globallinkPeers` to read `getStats()` when media does not flow.
 */
const livePeers = new Set();
globalThis.globallinkPeers = livePeers;

/** Resolve when ICE gathering is complete, or after `timeoutMs` (whatever is gathered by then). */
function iceGatheringDone(pc, timeoutMs) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(finish, timeoutMs);
    function check() {
      if (pc.iceGatheringState === 'complete') finish();
    }
    function onCandidate(ev) {
      if (!ev.candidate) finish();
    }
    function finish() {
      clearTimeout(timer);
      pc.removeEventListener('icegatheringstatechange', check);
      pc.removeEventListener('icecandidate', onCandidate);
      resolve();
    }
    pc.addEventListener('icegatheringstatechange', check);
    pc.addEventListener('icecandidate', onCandidate);
  });
}

/** TURN/STUN servers the hub sent (`ice_servers`), used by every new peer connection. */
let currentIceServers = [];

/**
 * Take fresh ICE servers from the hub: new peer connections use them, and live ones switch to
 * them (credentials rotate during a long call).
 */
export function setIceServers(servers) {
  currentIceServers = Array.isArray(servers) ? servers : [];
  for (const pc of livePeers) {
    try {
      pc.setConfiguration({ ...pc.getConfiguration(), iceServers: currentIceServers });
    } catch {
      /* a closed connection keeps its configuration */
    }
  }
}

/**
 * Create the peer connection with the hub: no ICE servers, every local track added (a missing
 * audio or video track becomes a receive-only transceiver so the remote side is still heard and
 * seen), an offer with all ICE candidates inside (non-trickle, 3 s safety timeout).
 *
 * `onRemoteTrack(remoteStream, track)` is called for every remote track; all of them are
 * collected in one MediaStream meant for a single <video> element.
 *
 * Resolves to `{ pc, sdp, remoteStream, acceptAnswer(sdp), close() }`: send `sdp` as
 * `{"type":"offer","sdp":...}` and hand the hub's `answer` to `acceptAnswer`.
 */
export async function createPeer(
  localStream,
  onRemoteTrack,
  { gatherTimeoutMs = 3000, main = null, onOtherStream = null, publish = true } = {},
) {
  const pc = new RTCPeerConnection({ iceServers: currentIceServers });
  livePeers.add(pc);
  const remoteStream = new MediaStream();
  // In a call with guests, each other participant's media arrives as its own stream, named by
  // the hub after them (`officer`, `interpreter-1`); `main` goes to the main video.
  const others = new Map();
  pc.addEventListener('track', (ev) => {
    const track = ev.track;
    const id = ev.streams && ev.streams[0] ? ev.streams[0].id : '';
    if (main && id && id !== main) {
      let stream = others.get(id);
      if (!stream) {
        stream = new MediaStream();
        others.set(id, stream);
      }
      if (!stream.getTracks().includes(track)) stream.addTrack(track);
      track.addEventListener('ended', () => stream.removeTrack(track));
      if (onOtherStream) onOtherStream(id, stream);
      return;
    }
    if (!remoteStream.getTracks().includes(track)) remoteStream.addTrack(track);
    track.addEventListener('ended', () => remoteStream.removeTrack(track));
    if (onRemoteTrack) onRemoteTrack(remoteStream, track);
  });

  const kinds = new Set();
  if (localStream && publish) {
    for (const track of localStream.getTracks()) {
      pc.addTrack(track, localStream);
      kinds.add(track.kind);
    }
  }
  for (const kind of ['audio', 'video']) {
    if (!kinds.has(kind)) pc.addTransceiver(kind, { direction: 'recvonly' });
  }

  const offer = await pc.createOffer();
  await pc.setLocalDescription(offer);
  await iceGatheringDone(pc, gatherTimeoutMs);

  return {
    pc,
    sdp: pc.localDescription.sdp,
    remoteStream,
    async acceptAnswer(sdp) {
      await pc.setRemoteDescription({ type: 'answer', sdp });
    },
    /**
     * An ICE restart on this connection (after a network change, or when the hub says the
     * call can be resumed): a new offer with fresh ICE credentials. Returns its SDP.
     */
    async restartIce() {
      const offer = await pc.createOffer({ iceRestart: true });
      await pc.setLocalDescription(offer);
      await iceGatheringDone(pc, gatherTimeoutMs);
      return pc.localDescription.sdp;
    },
    /** Whether the connection can still be resumed with an ICE restart. */
    resumable() {
      return pc.connectionState !== 'closed' && pc.signalingState !== 'closed';
    },
    /**
     * The hub asks for a new offer (someone joined or left): one with room to receive
     * `receive` participants' audio and video. Returns the offer's SDP.
     */
    async renegotiate(receive) {
      for (const kind of ['audio', 'video']) {
        const have = pc.getTransceivers().filter((t) => t.receiver.track && t.receiver.track.kind === kind).length;
        for (let i = have; i < receive; i += 1) pc.addTransceiver(kind, { direction: 'recvonly' });
      }
      const offer = await pc.createOffer();
      await pc.setLocalDescription(offer);
      return pc.localDescription.sdp;
    },
    close() {
      livePeers.delete(pc);
      try {
        pc.close();
      } catch {
        /* already closed */
      }
      for (const t of remoteStream.getTracks()) remoteStream.removeTrack(t);
    },
  };
}

/**
 * Show a stream in a <video> and start it. If the browser refuses to autoplay with sound, the
 * video plays muted and `onNeedsGesture(resume)` is called so the page can offer a button.
 */
export function playStream(video, stream, onNeedsGesture) {
  if (video.srcObject !== stream) video.srcObject = stream;
  const p = video.play();
  if (!p || typeof p.catch !== 'function') return;
  p.catch((err) => {
    if (err && err.name === 'AbortError') return; // a newer load() superseded this one
    if (video.muted) return;
    video.muted = true;
    video.play().catch(() => {});
    if (onNeedsGesture) {
      onNeedsGesture(() => {
        video.muted = false;
        return video.play();
      });
    }
  });
}

/** Stop every track of a stream (camera light off). */
export function stopStream(stream) {
  if (!stream) return;
  for (const t of stream.getTracks()) t.stop();
}

/** Classify a getUserMedia failure: 'denied' | 'notfound' | 'inuse' | 'insecure' | 'other'. */
export function mediaErrorKind(err) {
  const name = err && err.name;
  if (name === 'NotAllowedError' || name === 'SecurityError' || name === 'PermissionDeniedError') return 'denied';
  if (name === 'NotFoundError' || name === 'DevicesNotFoundError' || name === 'OverconstrainedError') return 'notfound';
  if (name === 'NotReadableError' || name === 'TrackStartError' || name === 'AbortError') return 'inuse';
  if (name === 'TypeError' && !window.isSecureContext) return 'insecure';
  return 'other';
}

/** Ask for camera and microphone; throws a TypeError when the API is missing (http://). */
export async function openCamera() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    const e = new TypeError('getUserMedia is not available (insecure context?)');
    throw e;
  }
  return navigator.mediaDevices.getUserMedia({ audio: true, video: true });
}

// ---------------------------------------------------------------- time

/** The office's zone. */
export const OFFICE_TZ = 'Asia/Shanghai';

const CITY_OVERRIDES = { 'Asia/Shanghai': 'Beijing' };

/** A readable city for an IANA zone: "Europe/Lisbon" → "Lisbon", "Asia/Shanghai" → "Beijing". */
export function cityOfZone(tz) {
  if (!tz) return '';
  if (CITY_OVERRIDES[tz]) return CITY_OVERRIDES[tz];
  const last = tz.split('/').pop() || tz;
  return last.replace(/_/g, ' ');
}

/** True if `tz` is a zone this browser knows. */
export function isValidZone(tz) {
  if (!tz) return false;
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

const formatterCache = new Map();
function formatter(locale, options) {
  const key = locale + JSON.stringify(options);
  let f = formatterCache.get(key);
  if (!f) {
    try {
      f = new Intl.DateTimeFormat(locale, options);
    } catch {
      // An unknown zone: show the time in the viewer's zone rather than failing the page.
      const fallback = { ...options };
      delete fallback.timeZone;
      f = new Intl.DateTimeFormat(locale, fallback);
    }
    formatterCache.set(key, f);
  }
  return f;
}

/** Time of day in a zone, with seconds and the zone's short name: "Tue 17:05:03 GMT+8". */
export function clockText(date, tz, locale = 'en-GB') {
  return formatter(locale, {
    timeZone: tz,
    weekday: 'short',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    timeZoneName: 'short',
  }).format(date);
}

/** Time of day in a zone, no seconds, with the zone name: "10:05 WEST". */
export function shortTimeText(date, tz, locale = 'en-GB') {
  return formatter(locale, {
    timeZone: tz,
    hour: '2-digit',
    minute: '2-digit',
    timeZoneName: 'short',
  }).format(date);
}

/** An RFC 3339 instant rendered in the viewer's zone, naming the zone. Empty for null. */
export function formatInstant(iso, locale = 'en-GB', tz = undefined) {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  const opts = {
    year: 'numeric',
    month: 'short',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    timeZoneName: 'short',
  };
  if (tz) opts.timeZone = tz;
  return formatter(locale, opts).format(d);
}

/** "3 min", "1 h 05 min", "40 s". */
export function durationText(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  return `${h} h ${String(m % 60).padStart(2, '0')} min`;
}

/**
 * The wall-clock fields of an instant in a zone, as numbers (24-hour clock):
 * `{year, month, day, hour, minute, second}`, plus `date` ("2026-11-30").
 */
export function zonedParts(date, tz) {
  const f = formatter('en-US', {
    timeZone: tz,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  });
  const out = {};
  for (const p of f.formatToParts(date)) {
    if (p.type !== 'literal') out[p.type] = Number(p.value);
  }
  if (out.hour === 24) out.hour = 0; // engines that still render midnight as 24
  const pad = (n) => String(n).padStart(2, '0');
  out.date = `${out.year}-${pad(out.month)}-${pad(out.day)}`;
  out.hhmm = `${pad(out.hour)}:${pad(out.minute)}`;
  out.hhmmss = `${out.hhmm}:${pad(out.second)}`;
  return out;
}

/** The zone's offset from UTC at that instant, as the hub writes it: "UTC+08:00", "UTC-03:00". */
export function utcOffsetText(date, tz) {
  const p = zonedParts(date, tz);
  const wall = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
  const minutes = Math.round((wall - Math.floor(date.getTime() / 1000) * 1000) / 60000);
  const sign = minutes < 0 ? '-' : '+';
  const abs = Math.abs(minutes);
  return `UTC${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

/** Night in that zone: before 07:00 or from 20:00 local time (the hub's rule too). */
export function isNightIn(date, tz) {
  const { hour } = zonedParts(date, tz);
  return hour < 7 || hour >= 20;
}

/** Format an instant in a zone with the given Intl options (cached formatters). */
export function formatIn(date, tz, locale, options) {
  return formatter(locale, { ...options, timeZone: tz }).format(date);
}

/** The viewer's own IANA zone. */
export function viewerZone() {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  } catch {
    return 'UTC';
  }
}

// ---------------------------------------------------------------- DOM

/** document.querySelector shorthand that throws when the element is missing (a page bug). */
export function $(selector, root = document) {
  const el = root.querySelector(selector);
  if (!el) throw new Error('missing element ' + selector);
  return el;
}

/**
 * Build an element: h('td', {class: 'x', dataset: {testid: 'y'}}, 'text', child).
 * Attributes are set with setAttribute (never `style`), children are text or nodes.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'dataset') {
      for (const [dk, dv] of Object.entries(v)) el.dataset[dk] = String(dv);
    } else if (k === 'class') {
      el.className = v;
    } else if (k === 'text') {
      el.textContent = v;
    } else if (k.startsWith('on') && typeof v === 'function') {
      el.addEventListener(k.slice(2), v);
    } else if (v === true) {
      el.setAttribute(k, '');
    } else {
      el.setAttribute(k, String(v));
    }
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** Put a message in a status element; `kind` is '', 'error', 'ok' or 'warn'. */
export function setStatus(el, text, kind = '') {
  el.textContent = text || '';
  el.classList.toggle('is-error', kind === 'error');
  el.classList.toggle('is-ok', kind === 'ok');
  el.classList.toggle('is-warn', kind === 'warn');
  el.dataset.kind = kind || 'info';
}

/** Offer a text file for download (used for the applicant's receipt). */
export function downloadText(filename, text) {
  downloadBlob(filename, new Blob([text], { type: 'text/plain;charset=utf-8' }));
}

/** Offer a Blob for download under `filename` (no navigation, no URL carrying a credential). */
export function downloadBlob(filename, blob) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

/** Copy text to the clipboard, falling back to selecting an input for insecure contexts. */
export async function copyText(text, fallbackInput) {
  if (navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch {
      /* fall through */
    }
  }
  if (fallbackInput) {
    fallbackInput.focus();
    fallbackInput.select();
    try {
      return document.execCommand('copy');
    } catch {
      return false;
    }
  }
  return false;
}

/** Short hash for display: first 12 hex digits and an ellipsis. */
export function shortHash(hash) {
  if (!hash) return '';
  return hash.length > 12 ? hash.slice(0, 12) + '…' : hash;
}

/** Human size: 1.2 MB. */
export function sizeText(bytes) {
  if (typeof bytes !== 'number') return '';
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = bytes / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

// ---------------------------------------------------------------- bytes

/** Bytes (Uint8Array or ArrayBuffer) as base64url without padding (RFC 4648 §5). */
export function base64urlEncode(bytes) {
  const u8 = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  let bin = '';
  for (let i = 0; i < u8.length; i += 0x8000) bin += String.fromCharCode(...u8.subarray(i, i + 0x8000));
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** base64url (padding optional) as a Uint8Array; throws a TypeError on anything else. */
export function base64urlDecode(text) {
  if (typeof text !== 'string' || !/^[A-Za-z0-9_-]*={0,2}$/.test(text)) throw new TypeError('not base64url');
  const b64 = text.replace(/=+$/, '').replace(/-/g, '+').replace(/_/g, '/');
  if (b64.length % 4 === 1) throw new TypeError('not base64url');
  const bin = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/**
 * Show another participant's stream (a guest, or the officer for a guest) as a captioned tile
 * in `container`; `label` names them.
 */
export function showParticipantTile(container, id, stream, label) {
  let fig = [...container.querySelectorAll('figure[data-participant]')].find((f) => f.dataset.participant === id);
  if (!fig) {
    fig = document.createElement('figure');
    fig.className = 'participant-tile';
    fig.dataset.participant = id;
    fig.dataset.testid = 'participant-tile';
    const video = document.createElement('video');
    video.autoplay = true;
    video.playsInline = true;
    const caption = document.createElement('figcaption');
    fig.append(video, caption);
    container.append(fig);
  }
  if (stream) playStream(fig.querySelector('video'), stream);
  const caption = fig.querySelector('figcaption');
  if (label && caption.textContent !== label) caption.textContent = label;
  fig.querySelector('video').setAttribute('aria-label', label || id);
  container.hidden = false;
}

/**
 * Keep only the tiles of those still in the call (`participants` as the hub lists them),
 * captioned by `labelOf(participant)`.
 */
export function pruneParticipantTiles(container, participants, labelOf) {
  const present = new Map(participants.map((p) => [p.role, p]));
  for (const fig of container.querySelectorAll('figure[data-participant]')) {
    const p = present.get(fig.dataset.participant);
    if (!p) {
      const video = fig.querySelector('video');
      if (video) video.srcObject = null;
      fig.remove();
    } else {
      fig.querySelector('figcaption').textContent = labelOf(p);
    }
  }
  container.hidden = !container.querySelector('figure[data-participant]');
}

/**
 * A new offer on the page's live peer connection (`getPeer()`): `make(peer)` builds it (an ICE
 * restart, or room for more senders) and `sendOffer(sdp)` sends it, unless the page moved on to
 * another connection meanwhile. Resolves `{ok}`, with the `error` when the browser refused.
 */
export async function offerAgain(getPeer, make, sendOffer) {
  const peer = getPeer();
  if (!peer) return { ok: false };
  try {
    const sdp = await make(peer);
    if (getPeer() === peer) sendOffer(sdp);
    return { ok: true };
  } catch (error) {
    return { ok: false, error };
  }
}
