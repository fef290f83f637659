import assert from "node:assert/strict";
import { test } from "node:test";

import { loadTheme, monacoTheme, resolveTheme, saveTheme, THEME_KEY } from "../js/theme.js";

const memory = () => {
  const items = new Map();
  return { getItem: (k) => items.get(k) ?? null, setItem: (k, v) => items.set(k, String(v)) };
};

test("the choice is remembered, and anything else stored means the system's", () => {
  const storage = memory();
  assert.equal(loadTheme(storage), "system");
  saveTheme(storage, "dark");
  assert.equal(storage.getItem(THEME_KEY), "dark");
  assert.equal(loadTheme(storage), "dark");
  storage.setItem(THEME_KEY, "purple");
  assert.equal(loadTheme(storage), "system");
  const refusing = { getItem() { throw new Error("denied"); }, setItem() { throw new Error("denied"); } };
  assert.equal(loadTheme(refusing), "system");
  saveTheme(refusing, "light"); // does not throw
});

test("system follows the system; light and dark do not", () => {
  assert.equal(resolveTheme("system", true), "dark");
  assert.equal(resolveTheme("system", false), "light");
  assert.equal(resolveTheme("light", true), "light");
  assert.equal(resolveTheme("dark", false), "dark");
  assert.equal(monacoTheme("dark"), "vs-dark");
  assert.equal(monacoTheme("light"), "vs");
});
