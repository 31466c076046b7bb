// Drives Debian's headless Chromium (through playwright-core, which downloads nothing) to the
// test page and checks what the page saw. Usage: node run.mjs <page url>
import { chromium } from "playwright-core";

const pageUrl = process.argv[2];
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic", "--no-first-run", "--disable-component-update", "--disable-sync"],
});
let result;
try {
  const page = await browser.newPage();
  page.on("console", (message) => console.error(`[page] ${message.text()}`));
  await page.goto(pageUrl);
  result = await (await page.waitForFunction(() => window.__result, null, { timeout: 30000 })).jsonValue();
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));

const checks = [
  ["authorize succeeds", result.authorized?.status === "AUTHORIZED" && result.authorized?.amountMinor === "1999"],
  ["get returns the same payment", result.fetched?.id === result.authorized?.id && result.fetched?.version === "1"],
  ["replay header visible to the page", result.replayed === "true"],
  ["amount 0 is INVALID_ARGUMENT (code 3), not UNKNOWN", result.invalid?.code === 3],
];
let failed = 0;
for (const [name, ok] of checks) {
  console.log(`${ok ? "PASS" : "FAIL"} ${name}`);
  if (!ok) failed += 1;
}
console.log(`browser: ${checks.length - failed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
