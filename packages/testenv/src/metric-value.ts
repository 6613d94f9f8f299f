/** Reading one value from a service's Prometheus `/metrics` in a test. */

/**
 * The value of the first sample of `name` on `<url>/metrics` whose line contains `labels`
 * (for example `kind="events"`, or nothing for any), NaN when there is none.
 */
export async function metricValue(url: string, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text
    .split('\n')
    .find((l) => (l.startsWith(`${name}{`) || l.startsWith(`${name} `)) && l.includes(labels));
  return line ? Number(line.split(' ').pop()) : NaN;
}
