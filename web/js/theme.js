// Light, dark or the system's: the choice, remembered in the browser's storage. No DOM here
// (web/tests/theme.test.js); index.html applies the stored choice before the page is drawn,
// app.js when it changes.

export const THEME_KEY = "coderunner.theme";
export const THEMES = Object.freeze(["system", "light", "dark"]);

/** The stored choice, or "system" when there is none (or storage is refused). */
export function loadTheme(storage) {
  try {
    const choice = storage.getItem(THEME_KEY);
    return THEMES.includes(choice) ? choice : "system";
  } catch {
    return "system";
  }
}

export function saveTheme(storage, choice) {
  try {
    storage.setItem(THEME_KEY, choice);
  } catch {
    // not remembered: the page still switches
  }
}

/** "light" or "dark": what ``choice`` shows when the system prefers dark or not. */
export function resolveTheme(choice, systemDark) {
  if (choice === "light" || choice === "dark") return choice;
  return systemDark ? "dark" : "light";
}

/** Monaco's built-in theme for a resolved one. */
export const monacoTheme = (resolved) => (resolved === "dark" ? "vs-dark" : "vs");
