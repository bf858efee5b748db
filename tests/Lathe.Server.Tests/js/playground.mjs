// Drives the web playground in a real browser (Debian's chromium, headless, through playwright-core): opens the
// page the server serves at /, waits for the model list, sends a message, waits for the streamed reply to finish,
// and saves a screenshot. Prints one JSON line: {"models":…, "reply":…, "meta":…, "screenshot":…}.
//
//   node playground.mjs BASE_URL SCREENSHOT.png [--chromium /usr/bin/chromium]
//
// PLAYWRIGHT_MODULE is the file URL of playwright-core's index.mjs (scripts/install-peers.sh puts it in .peers).
const [baseUrl, screenshot] = process.argv.slice(2);
const flag = process.argv.indexOf("--chromium");
const executablePath = flag > 0 ? process.argv[flag + 1] : "/usr/bin/chromium";
if (!baseUrl || !screenshot) { console.error("usage: node playground.mjs BASE_URL SCREENSHOT.png [--chromium PATH]"); process.exit(2); }
if (!process.env.PLAYWRIGHT_MODULE) { console.error("PLAYWRIGHT_MODULE is not set"); process.exit(2); }
const { chromium } = await import(process.env.PLAYWRIGHT_MODULE);

const browser = await chromium.launch({ executablePath, headless: true, args: ["--no-sandbox", "--disable-gpu"] });
try {
  const page = await browser.newPage({ viewport: { width: 1100, height: 700 } });
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(baseUrl, { waitUntil: "load" });
  await page.waitForFunction(() => document.querySelectorAll("#model option").length > 0, null, { timeout: 30000 });
  const models = await page.$$eval("#model option", (o) => o.map((x) => x.value));
  await page.fill("#max_tokens", "24");
  await page.fill("#seed", "7");
  await page.fill("#input", "Call me Ishmael.");
  await page.click("#send");
  await page.waitForSelector(".msg.assistant.done", { timeout: 60000 });
  const reply = await page.$eval(".msg.assistant.done .body", (e) => e.textContent);
  const meta = await page.$eval(".msg.assistant.done .meta", (e) => e.textContent).catch(() => "");
  const stats = await page.$eval("#stats", (e) => e.textContent);
  await page.screenshot({ path: screenshot, fullPage: false });
  console.log(JSON.stringify({ models, reply, meta, stats, errors, screenshot }));
} finally {
  await browser.close();
}
