// The four governance rule kinds: where each lives in the OpenAPI and how its JSON reads.
import type { Json } from '../api';

export type RuleKind = 'routing' | 'ratelimit' | 'circuitbreaker' | 'faultdetect';

export interface RuleKindSpec {
  kind: RuleKind;
  route: string;
  label: string;
  path: string;
  listField: string;
  /** `PUT <path>/enable` body for one rule, or null when the kind has no switch. */
  enableBody: ((rule: Json, enable: boolean) => Json) | null;
  enabled: (rule: Json) => boolean | null;
  target: (rule: Json) => string;
  template: Json;
}

const svc = (ns?: string, name?: string) => (ns || name ? `${ns || '*'}/${name || '*'}` : '-');

export const RULE_KINDS: RuleKindSpec[] = [
  {
    kind: 'routing',
    route: '/custom-route',
    label: 'Routing',
    path: '/naming/v2/routings',
    listField: 'data',
    enableBody: (rule, enable) => ({ id: rule.id, enable }),
    enabled: (rule) => !!rule.enable,
    target: (rule) => {
      const dest = rule.routing_config?.rules?.[0]?.destinations?.[0];
      return svc(dest?.namespace, dest?.service);
    },
    template: {
      enable: false,
      routing_policy: 'RulePolicy',
      priority: 0,
      description: '',
      routing_config: {
        '@type': 'type.googleapis.com/v1.RuleRoutingConfig',
        rules: [
          {
            name: 'rule-1',
            sources: [{ service: '*', namespace: '*', arguments: [] }],
            destinations: [{ service: 'echo', namespace: 'default', labels: {}, weight: 100, priority: 0, isolate: false, name: 'group-1' }],
          },
        ],
      },
    },
  },
  {
    kind: 'ratelimit',
    route: '/accesslimit',
    label: 'Rate limit',
    path: '/naming/v1/ratelimits',
    listField: 'rateLimits',
    enableBody: (rule, enable) => ({ id: rule.id, disable: !enable }),
    enabled: (rule) => !rule.disable,
    target: (rule) => svc(rule.namespace, rule.service),
    template: {
      service: 'echo',
      type: 'LOCAL',
      action: 'REJECT',
      disable: false,
      method: { type: 'EXACT', value: '' },
      amounts: [{ maxAmount: 100, validDuration: '1s' }],
    },
  },
  {
    kind: 'circuitbreaker',
    route: '/circuitBreaker',
    label: 'Circuit breaker',
    path: '/naming/v1/circuitbreaker/rules',
    listField: 'data',
    enableBody: (rule, enable) => ({ id: rule.id, enable }),
    enabled: (rule) => !!rule.enable,
    target: (rule) => svc(rule.ruleMatcher?.destination?.namespace, rule.ruleMatcher?.destination?.service),
    template: {
      enable: false,
      level: 'SERVICE',
      ruleMatcher: {
        source: { service: '*', namespace: '*' },
        destination: { service: 'echo', namespace: 'default' },
      },
      errorConditions: [{ inputType: 'RET_CODE', condition: { type: 'IN', value: '500,502,503' } }],
      triggerCondition: [{ triggerType: 'CONSECUTIVE_ERROR', errorCount: 10 }],
      recoverCondition: { sleepWindow: 60, consecutiveSuccess: 3 },
    },
  },
  {
    kind: 'faultdetect',
    route: '/faultDetect',
    label: 'Fault detection',
    path: '/naming/v1/faultdetectors',
    listField: 'data',
    enableBody: null,
    enabled: () => null,
    target: (rule) => svc(rule.targetService?.namespace, rule.targetService?.service),
    template: {
      targetService: { namespace: 'default', service: 'echo', method: { type: 'EXACT', value: '' } },
      interval: 30,
      timeout: 1000,
      port: 0,
      protocol: 'HTTP',
      httpConfig: { method: 'GET', url: '/health', headers: [] },
    },
  },
];
