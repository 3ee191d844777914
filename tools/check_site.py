"""Check the built documentation site in a real headless browser, offline.

Usage:
    make docs                                      # build docs/_build/html first
    python tools/check_site.py SCREENSHOT_DIR [--site docs/_build/html]

It builds nothing. It serves the built site from a local HTTP server on 127.0.0.1 and opens
the landing page, notebook 01 and the results page in Chromium (the OS package: `apt-get
install chromium`) with every other host unresolvable, i.e. with no network. For each page it

- takes a full-page screenshot into SCREENSHOT_DIR (landing.png, nb01.png, results.png);
- checks in the page itself, after MathJax has finished: every <img> loaded (naturalWidth > 0),
  every maths element was typeset (holds an `mjx-container`), no raw `$$` is left in the text,
  and no resource was requested from anywhere but the local server;
- checks that the server answered every request (no 404: a missing figure, font or script).

Across the three pages at least one figure and one typeset equation must be seen. Exits 0 when
every check passes, 1 with a message per failure otherwise, 2 when Chromium or the site is
missing.
"""

from __future__ import annotations

import argparse
import functools
import html
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGES = {  # screenshot name -> page, relative to the site root
    "landing": "README.html",
    "nb01": "notebooks/01_glamor_gridworld.html",
    "results": "docs/results.html",
}
BUDGET_MS = 30_000       # Chromium's virtual time for loading, MathJax and image decoding
WIDTH, MAX_HEIGHT = 1280, 16_000
RUN_TIMEOUT_S, TRIES = 60, 3  # one Chromium run usually takes 2-5 s
RESULT_ID = "site-check-result"

# Injected before </body> of the checked pages only (the files on disk are not touched).
PROBE = """
<script>
(function () {
  function stage(s) { document.documentElement.setAttribute("data-check-stage", s); }
  stage("script");
  async function probe() {
    stage("load");
    if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
      try { await MathJax.startup.promise; } catch (e) {}
    }
    stage("mathjax done");
    const imgs = Array.from(document.images);
    await Promise.all(imgs.map(function (img) {  // wait for each image's load or error
      img.loading = "eager";
      if (img.complete) return null;
      return new Promise(function (done) {
        img.addEventListener("load", done);
        img.addEventListener("error", done);
        setTimeout(done, 5000);
      });
    }));
    stage("images loaded");
    const maths = Array.from(document.querySelectorAll(
      "article span.math, article div.math, article .output_latex"));
    const main = document.querySelector("article") || document.body;
    const clone = main.cloneNode(true);
    clone.querySelectorAll("pre, code, script, style, mjx-container, mjx-assistive-mml")
      .forEach(function (n) { n.remove(); });
    const origin = location.origin;
    const remote = performance.getEntriesByType("resource")
      .map(function (e) { return e.name; })
      .filter(function (u) { return !u.startsWith(origin) && !u.startsWith("data:"); });
    const out = {
      images: imgs.map(function (i) {
        return {src: i.getAttribute("src"), ok: i.complete && i.naturalWidth > 0};
      }),
      maths: maths.length,
      typeset: document.querySelectorAll("mjx-container").length,
      untypeset: maths.filter(function (m) { return !m.querySelector("mjx-container"); })
        .map(function (m) { return m.textContent.slice(0, 80); }),
      raw_dollars: (clone.textContent.match(/\\$\\$/g) || []).length,
      remote: remote,
      mathjax: !!(window.MathJax && MathJax.version),
      height: Math.max(document.body.scrollHeight, document.documentElement.scrollHeight),
    };
    const pre = document.createElement("pre");
    pre.id = "__RESULT_ID__";
    pre.textContent = JSON.stringify(out);
    document.body.appendChild(pre);
  }
  if (document.readyState === "complete") probe();
  else window.addEventListener("load", probe);
})();
</script>
""".replace("__RESULT_ID__", RESULT_ID)


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


class Handler(SimpleHTTPRequestHandler):
    """Serves the site; injects PROBE into pages asked for with ?probe; records failures."""

    failures: list[str] = []

    def do_GET(self):  # noqa: N802 (http.server's name)
        path, _, query = self.path.partition("?")
        if query == "probe" and path.endswith(".html"):
            file = Path(self.translate_path(path))
            if not file.is_file():
                return self.send_error(404)
            body = file.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>", 1)
            data = body.encode("utf-8")
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return None
        return super().do_GET()

    def send_error(self, code, message=None, explain=None):
        if not self.path.startswith("/favicon.ico"):
            Handler.failures.append(f"HTTP {code} for {self.path}")
        return super().send_error(code, message, explain)

    def log_message(self, format, *args):  # quiet
        pass


def chromium(browser: str, url: str, *extra: str) -> subprocess.CompletedProcess:
    """One headless Chromium run on a fresh profile (no cache shared between runs)."""
    with tempfile.TemporaryDirectory(prefix="check-site-") as profile:
        return _chromium(browser, profile, url, *extra)


def _chromium(browser: str, profile: str, url: str, *extra: str) -> subprocess.CompletedProcess:
    cmd = [
        browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
        "--no-first-run", "--no-default-browser-check", "--disable-extensions",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={profile}",
        # offline: every host but the local server fails to resolve
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        f"--virtual-time-budget={BUDGET_MS}", "--run-all-compositor-stages-before-draw",
        *extra, url,
    ]
    for _ in range(TRIES):  # headless Chromium now and then hangs on a busy machine: retry
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                start_new_session=True)
        try:
            out, err = proc.communicate(timeout=RUN_TIMEOUT_S)
            return subprocess.CompletedProcess(cmd, proc.returncode, out, err)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # Chromium and its helper processes
            proc.communicate()
    return subprocess.CompletedProcess(cmd, -1, "", f"Chromium hung {TRIES} times "
                                       f"({RUN_TIMEOUT_S} s each)")


def check_page(browser: str, base: str, name: str, page: str,
               shots: Path) -> tuple[list[str], dict]:
    problems: list[str] = []
    done = chromium(browser, f"{base}/{page}?probe", f"--window-size={WIDTH},900",
                    "--dump-dom")
    m = re.search(rf'<pre id="{RESULT_ID}"[^>]*>(.*?)</pre>', done.stdout, re.S)
    if not m:
        st = re.search(r'data-check-stage="([^"]*)"', done.stdout)
        errors = [ln for ln in done.stderr.splitlines() if "dbus" not in ln][-3:]
        return [f"{page}: the in-page check did not report within {BUDGET_MS} ms of virtual "
                f"time (last stage: {st.group(1) if st else 'the probe never ran'}; chromium "
                f"exit {done.returncode}; {' | '.join(errors) or 'no error printed'})"], {}
    res = json.loads(html.unescape(m.group(1)))
    bad = [i["src"] for i in res["images"] if not i["ok"]]
    if bad:
        problems.append(f"{page}: {len(bad)} image(s) did not load: {', '.join(bad[:5])}")
    if res["untypeset"]:
        problems.append(f"{page}: {len(res['untypeset'])} maths element(s) not typeset by "
                        f"MathJax, e.g. {res['untypeset'][0]!r}")
    if res["maths"] and not res["mathjax"]:
        problems.append(f"{page}: the page has maths but MathJax did not load")
    if res["raw_dollars"]:
        problems.append(f"{page}: {res['raw_dollars']} raw '$$' left in the text (maths "
                        "that MyST did not parse)")
    if res["remote"]:
        problems.append(f"{page}: resources requested from the network: "
                        f"{', '.join(res['remote'][:5])}")
    height = max(900, min(int(res.get("height") or 900), MAX_HEIGHT))
    shot = shots / f"{name}.png"
    shot.unlink(missing_ok=True)
    took = chromium(browser, f"{base}/{page}", f"--window-size={WIDTH},{height}",
                    f"--screenshot={shot}")
    if not shot.is_file() or shot.stat().st_size == 0:
        errors = [ln for ln in took.stderr.splitlines() if "dbus" not in ln][-3:]
        problems.append(f"{page}: no screenshot was written to {shot} ({' | '.join(errors)})")
    return problems, res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("shots", type=Path, help="folder for the screenshots (created)")
    ap.add_argument("--site", type=Path, default=ROOT / "docs" / "_build" / "html",
                    help="the built site (default: docs/_build/html)")
    args = ap.parse_args(argv)

    browser = find_chromium()
    if browser is None:
        print("check_site: Chromium not found (looked for chromium, chromium-browser, "
              "google-chrome); install it with `apt-get install chromium`", file=sys.stderr)
        return 2
    site = args.site.resolve()
    if not (site / "index.html").is_file():
        print(f"check_site: no built site at {site}; run `make docs` first", file=sys.stderr)
        return 2
    args.shots.mkdir(parents=True, exist_ok=True)

    handler = functools.partial(Handler, directory=str(site))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    problems: list[str] = []
    images = typeset = 0
    try:
        for name, page in PAGES.items():
            if not (site / page).is_file():
                problems.append(f"{page}: not in the built site")
                continue
            found, res = check_page(browser, base, name, page, args.shots)
            problems += found
            if res:
                n_img = sum(i["ok"] for i in res["images"])
                images += n_img
                typeset += res["typeset"]
                print(f"{page}: {n_img}/{len(res['images'])} images loaded, "
                      f"{res['typeset']} equations typeset ({res['maths']} maths "
                      f"elements), screenshot {args.shots / (name + '.png')}")
    finally:
        server.shutdown()
    problems += Handler.failures
    if images == 0:
        problems.append("no figure was seen on any of the checked pages")
    if typeset == 0:
        problems.append("no typeset equation was seen on any of the checked pages")
    for p in problems:
        print(f"FAIL {p}", file=sys.stderr)
    print("check_site: " + ("FAILED" if problems else "all checks passed"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
