// The webhook receiver: answers every request with what it runs as, so
// that the user, directory and environment tend gave it can be seen.
// Secrets are reported by length only.
const http = require('http');
const port = Number(process.env.PORT || 9000);
const a = process.env.SECRET_PASSPHRASE || '';
const b = process.env.SECRET_TWO || '';
const server = http.createServer((req, res) => {
  res.setHeader('Content-Type', 'application/json');
  res.end(JSON.stringify({program: 'http.js', uid: process.getuid(),
                          gid: process.getgid(), cwd: process.cwd(),
                          a: a.length, b: b.length}) + '\n');
});
server.listen(port, '127.0.0.1', () => {
  console.log(`nodehook listening on ${port}`);
  console.error(`secret lengths ${a.length} ${b.length}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
