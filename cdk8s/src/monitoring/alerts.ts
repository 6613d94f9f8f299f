/**
 * The Gossip alerting rules, defined once. The chart's `files/alerts.yaml` is generated from
 * them for every cluster the operator runs (`alertGroups()`), promtool checks and unit-tests
 * that file (packages/chart-tests); a GossipCluster's own PrometheusRule
 * (`spec.monitoring.prometheusRule`) carries the same rules limited to that cluster
 * (`alertGroups({ namespace, cluster })`).
 *
 * Selectors: the api, gateway and engine series carry `namespace`, `cluster` (GossipCluster
 * name) and `component` target labels (the relabelings of ./scrape.ts add them); the
 * autoscaler's `gossip_operator_gateway_*` series carry `namespace` and `cluster` themselves.
 */
import {
  ATTACHMENTS_DELETED_METRIC,
  ATTACHMENTS_STORED_BYTES_METRIC,
  GATEWAY_CONNECTIONS_METRIC,
} from '@gossip/protocol';

/** One alerting rule as a Prometheus rules file spells it. */
export interface AlertRule {
  readonly alert: string;
  readonly expr: string;
  readonly for: string;
  readonly labels: { readonly severity: 'warning' | 'critical' };
  readonly annotations: {
    readonly summary: string;
    readonly description: string;
    readonly runbook_url: string;
  };
}

/** A rule group. */
export interface AlertGroup {
  readonly name: string;
  readonly rules: readonly AlertRule[];
}

/** Limits the rules to one GossipCluster (its PrometheusRule); unset: every cluster. */
export interface AlertScope {
  readonly namespace: string;
  readonly cluster: string;
}

/**
 * Thresholds of the attachment storage alerts, named once here (as the other alerts' numbers
 * sit in their rules): the chart's rules file and every cluster's PrometheusRule are generated
 * from them, so a deployment that wants others changes them here and regenerates.
 */
export const attachmentAlertThresholds = {
  /** `GossipAttachmentStorageFillingUp`: stored ciphertext it warns about (100 GiB). */
  storedBytes: 100 * 1024 ** 3,
  /** ... when the last 6 hours' growth would reach it within this many seconds (3 days). */
  horizonSeconds: 3 * 86_400,
} as const;

const runbook = (anchor: string) =>
  `https://github.com/gossip/gossip/blob/main/docs/operations.md#${anchor}`;
const where = 'Gossip {{ $labels.namespace }}/{{ $labels.cluster }}';

/**
 * The rule groups. Without a scope they cover every cluster and include the operator's own
 * alerts (the chart); with one, every series selector is narrowed to that cluster and the
 * operator group is left out (the operator is not part of a GossipCluster).
 */
export function alertGroups(scope?: AlertScope): AlertGroup[] {
  const matchers = scope ? [`namespace="${scope.namespace}"`, `cluster="${scope.cluster}"`] : [];
  /** `metric` with the scope's matchers and `extra` ones. */
  const s = (metric: string, ...extra: string[]) => {
    const all = [...matchers, ...extra];
    return all.length ? `${metric}{${all.join(',')}}` : metric;
  };
  const components = scope ? 'api|gateway|engine' : 'api|gateway|engine|operator';
  const up = s('up', `component=~"${components}"`);
  const churn =
    `sum by (namespace, cluster) (rate(${s(`${GATEWAY_CONNECTIONS_METRIC}_opened_total`)}[5m]))\n` +
    `  + sum by (namespace, cluster) (rate(${s(`${GATEWAY_CONNECTIONS_METRIC}_closed_total`)}[5m]))`;
  const groups: AlertGroup[] = [
    {
      name: 'gossip.delivery',
      rules: [
        {
          alert: 'GossipBacklogGrowing',
          // Engines each report the whole backlog, so take the max, not the sum.
          expr:
            `max by (namespace, cluster) (deriv(${s('gossip_engine_pending_messages')}[15m])) > 1\n` +
            'and on (namespace, cluster)\n' +
            `max by (namespace, cluster) (${s('gossip_engine_pending_messages')}) > 1000\n`,
          for: '15m',
          labels: { severity: 'warning' },
          annotations: {
            summary: `${where}: the pending backlog keeps growing`,
            description:
              'Stored, un-acked messages grow by {{ $value | humanize }}/s for 15 minutes. ' +
              'Recipients are not acking: check gateway and engine health and delivery latency.',
            runbook_url: runbook('backlog-growing'),
          },
        },
        {
          alert: 'GossipOldestPendingMessageTooOld',
          // 5 days: two days before the default 7-day retention expires the message unread.
          expr: `max by (namespace, cluster) (${s('gossip_engine_oldest_pending_age_seconds')}) > 432000`,
          for: '30m',
          labels: { severity: 'warning' },
          annotations: {
            summary: `${where}: a message has waited {{ $value | humanizeDuration }}`,
            description:
              'The oldest un-acked message is older than 5 days and expires at the retention ' +
              'limit (spec.retention.messageSeconds) without being delivered.',
            runbook_url: runbook('oldest-pending-message-too-old'),
          },
        },
        {
          alert: 'GossipDeliveryLatencyHigh',
          expr:
            'histogram_quantile(0.99,\n' +
            `  sum by (namespace, cluster, le) (rate(${s('gossip_gateway_deliver_latency_seconds_bucket')}[5m]))\n` +
            ') > 1\n',
          for: '10m',
          labels: { severity: 'warning' },
          annotations: {
            summary: `${where}: p99 delivery latency is {{ $value | humanizeDuration }}`,
            description:
              '99th percentile from acceptance to the live deliver frame is above 1s for 10 minutes.',
            runbook_url: runbook('delivery-latency-high'),
          },
        },
        {
          alert: 'GossipRedeliveryStorm',
          // Redeliveries are counted in delivered too; more than half of all deliveries being
          // redeliveries means clients are not acking what they receive.
          expr:
            `sum by (namespace, cluster) (rate(${s('gossip_engine_messages_redelivered_total')}[5m])) > 1\n` +
            'and on (namespace, cluster)\n' +
            `sum by (namespace, cluster) (rate(${s('gossip_engine_messages_redelivered_total')}[5m]))\n` +
            `  > 0.5 * sum by (namespace, cluster) (rate(${s('gossip_engine_messages_delivered_total')}[5m]))\n`,
          for: '10m',
          labels: { severity: 'warning' },
          annotations: {
            summary: `${where}: redelivery storm ({{ $value | humanize }}/s)`,
            description:
              'More than half of the deliveries are redeliveries of un-acked messages for 10 minutes.',
            runbook_url: runbook('redelivery-storm'),
          },
        },
      ],
    },
    {
      name: 'gossip.gateways',
      rules: [
        {
          alert: 'GossipHighConnectionChurn',
          // Opened plus closed per second above 10% of the open connections: clients reconnect
          // in a loop (drains, crashes, a flapping load balancer). The floor of 1/s keeps a
          // near-idle cluster quiet.
          expr:
            `(\n  ${churn}\n)\n` +
            `> 0.1 * sum by (namespace, cluster) (${s(GATEWAY_CONNECTIONS_METRIC)})\n` +
            'and\n' +
            `(\n  ${churn}\n) > 1\n`,
          for: '10m',
          labels: { severity: 'warning' },
          annotations: {
            summary: `${where}: {{ $value | humanize }} connections opened and closed per second`,
            description:
              'Connection churn is above 10% of the open connections per second for 10 minutes.',
            runbook_url: runbook('high-connection-churn'),
          },
        },
        {
          alert: 'GossipGatewaysAtMaxReplicas',
          // The operator's autoscaler series: scraped by the chart's operator ServiceMonitor.
          expr:
            `max by (namespace, cluster) (${s('gossip_operator_gateway_current_replicas')})\n` +
            `  >= max by (namespace, cluster) (${s('gossip_operator_gateway_max_replicas')})\n` +
            'and on (namespace, cluster)\n' +
            `max by (namespace, cluster) (${s('gossip_operator_gateway_connections')})\n` +
            '  > max by (namespace, cluster) (\n' +
            `      ${s('gossip_operator_gateway_max_replicas')} * ${s('gossip_operator_gateway_target_connections_per_pod')}\n` +
            '    )\n',
          for: '15m',
          labels: { severity: 'warning' },
          annotations: {
            summary: `${where}: gateways at maxReplicas and above target`,
            description:
              'The autoscaler cannot add gateways (spec.gateway.maxReplicas) while connections ' +
              'per gateway exceed spec.gateway.targetConnectionsPerPod. Raise maxReplicas.',
            runbook_url: runbook('gateways-at-max-replicas'),
          },
        },
      ],
    },
  ];
  const stored = s(ATTACHMENTS_STORED_BYTES_METRIC);
  // Engines each count the whole store in their sweep, so take the max, not the sum.
  const storedGrowing = `max by (namespace, cluster) (deriv(${stored}[6h])) > 0\n`;
  groups.push({
    name: 'gossip.attachments',
    rules: [
      {
        alert: 'GossipAttachmentStorageFillingUp',
        expr:
          `max by (namespace, cluster) (predict_linear(${stored}[6h], ${attachmentAlertThresholds.horizonSeconds}))\n` +
          `  > ${attachmentAlertThresholds.storedBytes}\n` +
          'and on (namespace, cluster)\n' +
          storedGrowing,
        for: '1h',
        labels: { severity: 'warning' },
        annotations: {
          summary: `${where}: attachment storage heads for {{ $value | humanize1024 }}B`,
          description:
            "At the last 6 hours' growth, stored attachment ciphertext passes " +
            `${attachmentAlertThresholds.storedBytes / 1024 ** 3} GiB within ` +
            `${attachmentAlertThresholds.horizonSeconds / 86_400} days. Check MongoDB disk ` +
            'space, spec.attachments (quotaBytes, retentionSeconds) and whether attachments ' +
            `are deleted after acks (${ATTACHMENTS_DELETED_METRIC}).`,
          runbook_url: runbook('attachment-storage-filling-up'),
        },
      },
      {
        alert: 'GossipAttachmentsNotDeleted',
        // Recipients ack the messages carrying attachments, and each ack by the last named
        // recipient deletes the blob: storage growing for hours with no such delete means acks
        // no longer reach the engine, or the engine fails to delete.
        expr:
          storedGrowing +
          'and on (namespace, cluster)\n' +
          `sum by (namespace, cluster) (increase(${s(ATTACHMENTS_DELETED_METRIC)}[6h])) == 0\n`,
        for: '1h',
        labels: { severity: 'warning' },
        annotations: {
          summary: `${where}: attachment storage grows and nothing is deleted after acks`,
          description:
            'Stored attachment bytes have grown for 6 hours while no attachment was deleted ' +
            'after its recipients acked it. Only retention (spec.attachments.retentionSeconds) ' +
            'removes them now.',
          runbook_url: runbook('attachments-not-deleted'),
        },
      },
    ],
  });
  if (!scope) {
    groups.push({
      name: 'gossip.operator',
      rules: [
        {
          alert: 'GossipOperatorReconcileErrors',
          expr: 'sum by (namespace, controller) (rate(gossip_operator_reconcile_errors_total[5m])) > 0',
          for: '15m',
          labels: { severity: 'warning' },
          annotations: {
            summary: 'Gossip operator in {{ $labels.namespace }}: reconcile errors for 15 minutes',
            description:
              'The {{ $labels.controller }} controller fails {{ printf "%.2f" $value }} ' +
              "reconciles/s. Its logs and the GossipClusters' Ready conditions say why.",
            runbook_url: runbook('operator-reconcile-errors'),
          },
        },
      ],
    });
  }
  groups.push({
    name: 'gossip.availability',
    rules: [
      {
        alert: 'GossipComponentDown',
        // Every replica of a component unscrapeable: that component is down.
        expr: `sum by (namespace, cluster, component) (${up}) == 0\n`,
        for: '5m',
        labels: { severity: 'critical' },
        annotations: {
          summary: `${where}: {{ $labels.component }} is down`,
          description: 'No {{ $labels.component }} instance has answered a scrape for 5 minutes.',
          runbook_url: runbook('component-down'),
        },
      },
      {
        alert: 'GossipInstanceDown',
        expr: `${up} == 0`,
        for: '10m',
        labels: { severity: 'warning' },
        annotations: {
          summary: `${where}: {{ $labels.component }} instance {{ $labels.instance }} is down`,
          description:
            'One {{ $labels.component }} instance has not answered a scrape for 10 minutes; ' +
            'the others carry its load.',
          runbook_url: runbook('component-down'),
        },
      },
    ],
  });
  return groups;
}
