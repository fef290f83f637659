import assert from "node:assert/strict";
import { test } from "node:test";

import { backoffMs, Connection, socketUrl, TOKEN_KEY } from "../js/connection.js";

class FakeSocket {
  static all = [];
  constructor(url) {
    this.url = url;
    this.sent = [];
    this.closed = false;
    FakeSocket.all.push(this);
  }
  send(text) { this.sent.push(JSON.parse(text)); }
  close() { this.closed = true; this.onclose?.({}); }
  receive(frame) { this.onmessage({ data: JSON.stringify(frame) }); }
}

function environment() {
  FakeSocket.all = [];
  const timers = [];
  const items = new Map();
  return {
    timers,
    env: {
      WebSocket: FakeSocket,
      storage: { getItem: (k) => items.get(k) ?? null, setItem: (k, v) => items.set(k, v) },
      location: { protocol: "http:", host: "127.0.0.1:8000" },
      setTimeout: (fn, ms) => { timers.push({ fn, ms }); return timers.length; },
      clearTimeout: () => {},
      random: () => 0.5,
    },
  };
}

test("the URL follows the page's scheme and carries the token", () => {
  assert.equal(socketUrl({ protocol: "http:", host: "h:1" }, null), "ws://h:1/ws");
  assert.equal(socketUrl({ protocol: "https:", host: "h" }, "a.b/c"), "wss://h/ws?token=a.b%2Fc");
});

test("backoff doubles from 0.5 s up to 10 s, with jitter", () => {
  const mid = () => 0.5;
  assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 20].map((k) => backoffMs(k, mid)),
    [500, 1000, 2000, 4000, 8000, 10000, 10000, 10000]);
  assert.equal(backoffMs(0, () => 0), 400);
  assert.equal(backoffMs(0, () => 1), 600);
});

test("the session frame opens the connection and its token is kept", () => {
  const { env } = environment();
  const states = [];
  const events = [];
  const c = new Connection(env).on("state", (s) => states.push(s)).on("event", (e) => events.push(e));
  c.connect();
  assert.equal(FakeSocket.all[0].url, "ws://127.0.0.1:8000/ws");
  assert.equal(c.send({ type: "stop", executionId: "x" }), false, "nothing is sent before the session");
  FakeSocket.all[0].receive({ type: "session", sessionId: "s1", token: "t1" });
  assert.deepEqual(states, ["connecting", "open"]);
  assert.equal(env.storage.getItem(TOKEN_KEY), "t1");
  assert.equal(c.resumed, false);
  assert.equal(events[0].type, "session");
  assert.equal(c.send({ type: "stop", executionId: "x" }), true);
  assert.deepEqual(FakeSocket.all[0].sent, [{ type: "stop", executionId: "x" }]);
});

test("a dropped socket reconnects with the latest token, after a growing delay", () => {
  const { env, timers } = environment();
  let drops = 0;
  const c = new Connection(env).on("drop", () => { drops += 1; });
  c.connect();
  FakeSocket.all[0].receive({ type: "session", sessionId: "s1", token: "t1" });
  FakeSocket.all[0].onclose({});
  assert.equal(drops, 1);
  assert.equal(c.state, "waiting");
  assert.equal(timers[0].ms, 500);
  timers[0].fn();
  assert.equal(FakeSocket.all[1].url, "ws://127.0.0.1:8000/ws?token=t1");
  FakeSocket.all[1].onclose({}); // refused before any session frame: no drop, longer wait
  assert.equal(drops, 1);
  assert.equal(timers[1].ms, 1000);
  timers[1].fn();
  FakeSocket.all[2].receive({ type: "session", sessionId: "s1", token: "t2", resumed: true });
  assert.equal(c.resumed, true);
  assert.equal(env.storage.getItem(TOKEN_KEY), "t2");
  FakeSocket.all[2].onclose({});
  assert.equal(timers[2].ms, 500, "a successful session resets the backoff");
});

test("close() stops for good; retryNow() skips the wait", () => {
  const { env, timers } = environment();
  const c = new Connection(env);
  c.connect();
  FakeSocket.all[0].onclose({});
  c.retryNow();
  assert.equal(FakeSocket.all.length, 2);
  c.close();
  assert.equal(c.state, "closed");
  assert.equal(timers.length, 1);
});

test("frames that are not JSON are ignored", () => {
  const { env } = environment();
  const events = [];
  const c = new Connection(env).on("event", (e) => events.push(e));
  c.connect();
  FakeSocket.all[0].onmessage({ data: "not json" });
  assert.deepEqual(events, []);
});
