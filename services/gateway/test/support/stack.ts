/**
 * Test support: the delivery services (gateway, engine, and the api when a test wants real
 * accounts) as real processes, isolated per stack: @gossip/testenv's {@link ServiceStack}
 * (one launcher for the tests, `npm start`, the bench and the chaos suite), under the name
 * these tests have always used.
 */
export {
  ServiceStack as Stack,
  eventually,
  freePort,
  metricValue as metric,
  repoRoot,
  type GatewayService,
  type Service,
  type StackServers,
} from '@gossip/testenv';
