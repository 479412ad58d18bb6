// Decides the workflow requests with @cloud-copilot/iam-simulate, an IAM policy simulator this
// project did not write (AGPL; test-only, never shipped). Reads one JSON array of requests on
// stdin and prints one JSON array of decisions, so that a test run starts Node once.
//
// A request: {principal, account, policies: [{name, policy}], boundary, resource_policy,
// action, resource, context, session}; `boundary`, when given, is the principal's permissions
// boundary ({name, policy}). `context` is validated: the simulator drops keys that IAM does not list for the
// action and resource type, and reports them as `ignored`. `session` holds Studio's session
// policy variables (sagemaker:DomainId, sagemaker:UserProfileName), which IAM resolves in
// policies but lists for no action; requests with them are decided by the simulator's
// unvalidated entry point after the validated one has checked action, resource and context.
import { runSimulation, runUnsafeSimulation } from '@cloud-copilot/iam-simulate'

const input = await new Promise((resolve, reject) => {
  let text = ''
  process.stdin.setEncoding('utf8')
  process.stdin.on('data', (chunk) => (text += chunk))
  process.stdin.on('end', () => resolve(text))
  process.stdin.on('error', reject)
})

function simulation(request, policies, context) {
  return {
    request: {
      principal: request.principal,
      action: request.action,
      resource: { resource: request.resource, accountId: request.account },
      contextVariables: context
    },
    identityPolicies: policies,
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    resourcePolicy: request.resource_policy ?? undefined,
    permissionBoundaryPolicies: request.boundary ? [request.boundary] : undefined
  }
}

const sid = (entry) => entry.explain?.identifier ?? '(no Sid)'

// Why statements on the action did not apply: resource or which conditions missed.
function nearMisses(analysis) {
  const unmatched = analysis?.identityAnalysis?.unmatchedStatements ?? []
  return unmatched
    .filter((entry) => entry.actionMatch)
    .map((entry) => {
      const explain = entry.explain ?? {}
      const reasons = []
      if (!entry.resourceMatch) {
        const resources = [explain.resources].flat().filter(Boolean)
        const errors = resources.flatMap((r) => r.errors ?? [])
        reasons.push(errors.length > 0 ? `resource: ${errors.join('; ')}` : 'resource does not match')
      }
      for (const condition of explain.conditions ?? []) {
        if (condition.matches) continue
        const key = condition.conditionKeyValue
        const values = (condition.values ? [condition.values].flat() : []).map((v) => v.value)
        reasons.push(
          `${condition.operator} ${key} ${JSON.stringify(values)}` +
            (condition.failedBecauseMissing ? ' (key not in request)' : ' (value differs)')
        )
      }
      return { sid: sid(entry), reasons }
    })
}

async function decide(request) {
  const validated = await runSimulation(simulation(request, request.policies, request.context), {})
  if (validated.resultType === 'error') {
    return { decision: 'Error', errors: validated.errors }
  }
  const results = validated.resultType === 'single' ? [validated.result] : validated.results
  const ignored = [...new Set(results.flatMap((r) => r.ignoredContextKeys ?? []))]
  const analyses = results.map((r) => r.analysis)
  const session = request.session ?? {}
  if (Object.keys(session).length === 0) {
    return {
      decision: validated.overallResult,
      ignored,
      allowed_by: analyses.flatMap((a) => (a?.identityAnalysis?.allowStatements ?? []).map(sid)),
      denied_by: analyses.flatMap((a) =>
        [
          ...(a?.identityAnalysis?.denyStatements ?? []),
          ...(a?.permissionBoundaryAnalysis?.denyStatements ?? [])
        ].map(sid)
      ),
      near_misses: analyses.flatMap(nearMisses)
    }
  }
  if (request.resource_policy) {
    // The unvalidated entry point fails on resource policies (iam-simulate 0.1.173).
    return { decision: 'Error', errors: { message: 'a Studio session request with a resource policy cannot be decided' } }
  }
  const context = { ...request.context, ...session }
  const decision = runUnsafeSimulation(simulation(request, request.policies, context), {})
  // The unvalidated entry point reports only the decision: ask it once per statement to name
  // the statements that allow the request on their own.
  const allowedBy = []
  if (decision === 'Allowed') {
    for (const { name, policy } of request.policies) {
      for (const statement of [policy.Statement].flat()) {
        const alone = [{ name, policy: { Version: policy.Version, Statement: [statement] } }]
        if (runUnsafeSimulation(simulation(request, alone, context), {}) === 'Allowed') {
          allowedBy.push(statement.Sid ?? '(no Sid)')
        }
      }
    }
  }
  return {
    decision,
    ignored,
    allowed_by: allowedBy,
    denied_by: [],
    near_misses: analyses.flatMap(nearMisses)
  }
}

const requests = JSON.parse(input)
const decisions = []
for (const request of requests) {
  try {
    decisions.push(await decide(request))
  } catch (error) {
    decisions.push({ decision: 'Error', errors: { message: String(error?.stack ?? error) } })
  }
}
process.stdout.write(JSON.stringify(decisions))
