export { WorkQueue, type WorkQueueMetrics, type WorkQueueOptions } from './queue.js';
export {
  BucketRateLimiter,
  ItemExponentialFailureRateLimiter,
  MaxOfRateLimiter,
  defaultControllerRateLimiter,
  type RateLimiter,
} from './rate-limiter.js';
export { realClock, type Clock, type TimerHandle } from './clock.js';
