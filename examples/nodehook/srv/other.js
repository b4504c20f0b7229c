// The same receiver under another name, for the command override of
// TEND_PROGRAM_NODEHOOK_COMMAND.
const http = require('http');
const port = Number(process.env.PORT || 9000);
const server = http.createServer((req, res) => {
  res.setHeader('Content-Type', 'application/json');
  res.end(JSON.stringify({program: 'other.js', uid: process.getuid()}) + '\n');
});
server.listen(port, '127.0.0.1', () => console.log(`other listening on ${port}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
