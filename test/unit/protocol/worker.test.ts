// The protocol over a worker thread: the host used by tests, web mode and batch workers.

import type { EngineMessage } from '../../../engine/protocol';
import { EngineSupervisor } from '../../../engine/host/supervisor';
import { Client } from '../../../renderer/client/client';
import { buildWorker, supervisorTransport } from './harness';
import { describeProtocol } from './suite';

describeProtocol('worker_threads', async () => {
  const sup = new EngineSupervisor({ workerUrl: await buildWorker(), workerData: { paths: 'none' } });
  const transport = supervisorTransport(sup);
  const log: EngineMessage[] = [];
  const client = new Client(transport);
  const clientReceive = transport.onMessage;
  transport.onMessage = (m) => { log.push(m); clientReceive(m); };
  await client.hello();
  client.ready();
  return {
    client, log,
    sendRaw: (m) => sup.postMessage(m),
    crash: () => sup.crash(),
    close: () => sup.close(),
  };
});
