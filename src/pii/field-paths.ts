/**
 * Field paths that may name a finding: the spec's declared fields and the paths its PII policy names. A record's
 * own keys are content (an address used as a key is PII like any value), so they never become a path.
 */
import type { FieldSpec } from '../shared/spec';

/** The path segment that stands for every key the spec does not declare, in findings and quarantine reasons. */
export const UNKNOWN_FIELD = '<unknown>';

/** The declared shape below one path: its named child fields, and the element shape when it is a list. */
export interface DeclaredNode {
  fields: Map<string, DeclaredNode>;
  items?: DeclaredNode;
}

/** A node that declares nothing below it (a free-form object, or a list element of unknown shape). */
export const EMPTY_NODE: DeclaredNode = Object.freeze({ fields: new Map<string, DeclaredNode>() });

/**
 * The tree of declared paths: schema fields (nested objects and list items too) plus every path the policy names
 * (`pii.fields`, `pii.allowList`), so a policy on a field the schema leaves free-form still finds its field.
 * A numeric or `*` segment in a policy path stands for the elements of a list.
 */
export function declaredTree(fields: Record<string, FieldSpec>, policyPaths: Iterable<string>): DeclaredNode {
  const root = fromFields(fields);
  for (const path of policyPaths) {
    let node = root;
    for (const segment of path.split('.')) {
      if (segment === '*' || /^\d+$/.test(segment)) {
        node.items ??= { fields: new Map() };
        node = node.items;
      } else {
        let child = node.fields.get(segment);
        if (child === undefined) node.fields.set(segment, (child = { fields: new Map() }));
        node = child;
      }
    }
  }
  return root;
}

function fromFields(fields: Record<string, FieldSpec>): DeclaredNode {
  const node: DeclaredNode = { fields: new Map() };
  for (const [name, field] of Object.entries(fields)) node.fields.set(name, fromField(field));
  return node;
}

function fromField(field: FieldSpec): DeclaredNode {
  const node = field.fields ? fromFields(field.fields) : { fields: new Map<string, DeclaredNode>() };
  if (field.items) node.items = fromField(field.items);
  return node;
}

/** Array indexes folded to `*` (`tags.3` → `tags.*`), so summary keys stay few and stable. */
export function foldIndexes(path: string): string {
  return path.replace(/(^|\.)\d+(?=\.|$)/g, '$1*');
}
