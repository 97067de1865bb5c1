// GET a URL and print the body; exits 1 on anything but a 2xx answer.
//
//   node --input-type=module -e "$(cat http-get.mjs)" <url>

const [url] = process.argv.slice(1);
const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
process.stdout.write(await res.text());
if (!res.ok) {
  process.stderr.write(`GET ${url}: ${res.status}\n`);
  process.exitCode = 1;
}
