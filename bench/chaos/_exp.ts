import { spawn } from 'node:child_process';
import http from 'node:http';
const proc = spawn(process.execPath, [...(process.env.PROF ? ['--cpu-prof', '--cpu-prof-dir=/tmp/exp'] : []), '--import', 'tsx', 'bench/chaos/sim-server.ts'], { env: { ...process.env, SIM_CALL_MS: '1000', SIM_OUTCOMES: 'completed:1' }, stdio: ['ignore', 'pipe', 'inherit'] });
const urls = await new Promise<{ twilio: string }>((resolve) => { let b = ''; proc.stdout.on('data', (c: Buffer) => { b += c; const l = b.split('\n').find((x) => x.includes('ready')); if (l) resolve(JSON.parse(l)); }); });
const N = Number(process.argv[2] ?? 800);
const agents = [0, 1, 2].map(() => new http.Agent({ keepAlive: true, maxSockets: Number(process.argv[3] ?? 256) }));
const t0 = performance.now();
const lat: number[] = [];
await Promise.all(Array.from({ length: N }, async (_, i) => {
  const t = performance.now();
  const body = `To=%2B1555${String(i).padStart(7, '0')}&From=%2B15550000000&StatusCallback=http%3A%2F%2F127.0.0.1%3A9%2Fx`;
  await new Promise<void>((resolve, reject) => {
    const req = http.request(`${urls.twilio}/2010-04-01/Accounts/AC00000000000000000000000000000000/Calls.json`, { method: 'POST', agent: agents[i % 3], headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: 'Basic ' + Buffer.from('AC00000000000000000000000000000000:x').toString('base64') } }, (res) => { res.resume(); res.on('end', () => resolve()); });
    req.on('error', reject); req.end(body);
  });
  lat.push(performance.now() - t);
}));
lat.sort((a, b) => a - b);
console.log(`N=${N} total ${Math.round(performance.now() - t0)} ms p50 ${Math.round(lat[N / 2 | 0]!)} p99 ${Math.round(lat[Math.floor(N * 0.99)]!)} max ${Math.round(lat[N - 1]!)}`);
proc.kill('SIGINT'); await new Promise((r) => proc.once('exit', r)); process.exit(0);
