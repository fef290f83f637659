// The socket to the platform (docs/protocol.md): keeps the session token of the latest
// `session` frame, and when the socket drops, reconnects with `/ws?token=…` after a growing
// delay so that the session (its sandboxes, network and database) is resumed. The WebSocket
// class, the storage and the timers are passed in, so web/tests/connection.test.js runs this
// under Node with fakes.

export const TOKEN_KEY = "coderunner.session.token";

/** The delay before reconnect attempt ``attempt`` (0, 1, …): 0.5 s doubling to 10 s, ±20 %. */
export function backoffMs(attempt, random = Math.random) {
  const base = Math.min(10_000, 500 * 2 ** Math.min(attempt, 10));
  return Math.round(base * (0.8 + 0.4 * random()));
}

/** The socket's URL for a page at ``location``, with the token to resume when there is one. */
export function socketUrl(location, token) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const query = token ? `?token=${encodeURIComponent(token)}` : "";
  return `${scheme}://${location.host}/ws${query}`;
}

export class Connection {
  /**
   * @param {{WebSocket: any, storage: Storage, location: {protocol: string, host: string},
   *   setTimeout?: Function, clearTimeout?: Function, random?: () => number}} env
   */
  constructor(env) {
    this.env = env;
    this.socket = null;
    this.timer = null;
    this.attempt = 0;
    /** connecting | open | waiting (to reconnect) | closed */
    this.state = "closed";
    this.sessionId = null;
    this.resumed = false;
    this.retryInMs = 0;
    this.stopped = false;
    this.listeners = { state: [], event: [], drop: [] };
  }

  /** ``state`` (the connection changed), ``event`` (a frame), ``drop`` (an open socket closed). */
  on(kind, listener) {
    this.listeners[kind].push(listener);
    return this;
  }

  emit(kind, value) {
    for (const listener of this.listeners[kind]) listener(value);
  }

  get token() {
    try {
      return this.env.storage.getItem(TOKEN_KEY);
    } catch {
      return null;
    }
  }

  set token(value) {
    try {
      this.env.storage.setItem(TOKEN_KEY, value);
    } catch {
      // Storage disabled: the session still lasts as long as this page.
    }
  }

  get isOpen() { return this.state === "open"; }

  connect() {
    this.stopped = false;
    this.clearTimer();
    this.setState("connecting");
    const socket = new this.env.WebSocket(socketUrl(this.env.location, this.token));
    this.socket = socket;
    let established = false;
    socket.onmessage = (message) => {
      let frame;
      try {
        frame = JSON.parse(message.data);
      } catch {
        return; // the server sends JSON only; nothing to show for anything else
      }
      if (frame.type === "session") {
        established = true;
        this.attempt = 0;
        this.token = frame.token;
        this.sessionId = frame.sessionId;
        this.resumed = frame.resumed === true;
        this.setState("open");
      }
      this.emit("event", frame);
    };
    socket.onclose = () => {
      if (this.socket !== socket) return;
      this.socket = null;
      if (established) this.emit("drop");
      if (this.stopped) {
        this.setState("closed");
        return;
      }
      this.retryInMs = backoffMs(this.attempt, this.env.random);
      this.attempt += 1;
      this.setState("waiting");
      this.timer = (this.env.setTimeout ?? setTimeout)(() => this.connect(), this.retryInMs);
    };
    socket.onerror = () => {}; // onclose follows and handles it
  }

  /** Send a frame; false when there is no open socket (nothing is queued for later). */
  send(frame) {
    if (!this.socket || this.state !== "open") return false;
    this.socket.send(JSON.stringify(frame));
    return true;
  }

  /** Reconnect now instead of waiting for the timer. */
  retryNow() {
    if (this.state === "waiting") this.connect();
  }

  close() {
    this.stopped = true;
    this.clearTimer();
    if (this.socket) this.socket.close();
    else this.setState("closed");
  }

  clearTimer() {
    if (this.timer !== null) (this.env.clearTimeout ?? clearTimeout)(this.timer);
    this.timer = null;
  }

  setState(state) {
    this.state = state;
    this.emit("state", state);
  }
}
