declare namespace Cloudflare {
  interface Env {
    TEST_MIGRATIONS: import("cloudflare:test").D1Migration[];
  }
}

// Vite's raw imports (a file's text), e.g. the README a docs test checks against the code.
declare module "*?raw" {
  const text: string;
  export default text;
}
