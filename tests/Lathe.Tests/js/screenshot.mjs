// Opens a local HTML report in a real browser (Debian's chromium, headless, through playwright-core), saves a
// full-page screenshot, and prints one JSON line: the page's title, the boxes of its SVG elements, the count of
// requests the page made beyond its own file, and any page errors.
//
//   node screenshot.mjs REPORT.html SCREENSHOT.png [--chromium /usr/bin/chromium] [--width 1200]
//
// PLAYWRIGHT_MODULE is the file URL of playwright-core's index.mjs (scripts/install-peers.sh puts it in .peers).
import { pathToFileURL } from "node:url";

const [report, screenshot] = process.argv.slice(2);
const option = (name, fallback) => { const i = process.argv.indexOf(name); return i > 0 ? process.argv[i + 1] : fallback; };
const executablePath = option("--chromium", "/usr/bin/chromium");
const width = Number(option("--width", "1200"));
if (!report || !screenshot) { console.error("usage: node screenshot.mjs REPORT.html SCREENSHOT.png [--chromium PATH] [--width N]"); process.exit(2); }
if (!process.env.PLAYWRIGHT_MODULE) { console.error("PLAYWRIGHT_MODULE is not set"); process.exit(2); }
const { chromium } = await import(process.env.PLAYWRIGHT_MODULE);

const browser = await chromium.launch({ executablePath, headless: true, args: ["--no-sandbox", "--disable-gpu"] });
try {
  const page = await browser.newPage({ viewport: { width, height: 900 } });
  const errors = [];
  const requests = [];
  const url = pathToFileURL(report).href;
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("request", (r) => { if (r.url() !== url) requests.push(r.url()); });
  await page.goto(url, { waitUntil: "load" });
  const svgs = await page.$$eval("svg", (list) => list.map((s) => {
    const r = s.getBoundingClientRect();
    return { id: s.id, width: r.width, height: r.height, texts: s.querySelectorAll("text").length };
  }));
  const title = await page.title();
  await page.screenshot({ path: screenshot, fullPage: true });
  console.log(JSON.stringify({ title, svgs, requests, errors, screenshot }));
} finally {
  await browser.close();
}
