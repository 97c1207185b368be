// An HTTP service traced by the real SkyWalking Node.js agent (skywalking-backend-js 0.9.0):
// `node app.js PORT` with SERVICE and COLLECTOR (host:port of the gRPC endpoint); every request
// is answered 200. Prints `ready` once listening.
const agent = require('skywalking-backend-js').default;

agent.start({
  serviceName: process.env.SERVICE,
  serviceInstance: `${process.env.SERVICE}-1`,
  collectorAddress: process.env.COLLECTOR,
});

const http = require('http');

http
  .createServer((request, response) => {
    response.writeHead(200, { 'Content-Type': 'text/plain' });
    response.end('ok\n');
  })
  .listen(Number(process.argv[2]), '127.0.0.1', () => console.log('ready'));
