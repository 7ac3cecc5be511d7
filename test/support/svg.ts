/**
 * A small XML well-formedness check for the SVG we write: elements with quoted attributes (each
 * name once), balanced and properly nested tags, a single root `<svg>` carrying the SVG
 * namespace, and text without stray `<` or unknown entities. Returns '' or the first problem.
 * Shared by test/demo.test.ts and test/charts.test.ts.
 */
export function svgProblem(text: string): string {
  const tag = /<(\/?)([A-Za-z][\w:.-]*)((?:\s+[A-Za-z_:][\w:.-]*="[^"<]*")*)\s*(\/?)>/g;
  const textOk = (s: string): boolean => !/[<>]/.test(s) && !/&(?!(amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);)/.test(s);
  const stack: string[] = [];
  let roots = 0;
  let last = 0;
  for (let m = tag.exec(text); m !== null; m = tag.exec(text)) {
    const between = text.slice(last, m.index);
    if (!textOk(between)) return `bad text before offset ${m.index}: ${JSON.stringify(between.slice(0, 40))}`;
    last = tag.lastIndex;
    const [, closing, name, attrs, selfClosing] = m as unknown as [string, string, string, string, string];
    if (closing === '/') {
      if (attrs.trim() !== '' || selfClosing === '/') return `malformed closing tag </${name}>`;
      const open = stack.pop();
      if (open !== name) return `</${name}> closes <${open ?? 'nothing'}>`;
      continue;
    }
    const names = [...attrs.matchAll(/([A-Za-z_:][\w:.-]*)="/g)].map((a) => a[1]!);
    if (new Set(names).size !== names.length) return `<${name}> repeats an attribute`;
    if (stack.length === 0) {
      roots++;
      if (roots > 1) return 'more than one root element';
      if (name !== 'svg') return `root element is <${name}>, not <svg>`;
      if (!attrs.includes('xmlns="http://www.w3.org/2000/svg"'))
        return 'root <svg> lacks xmlns="http://www.w3.org/2000/svg"';
    }
    if (selfClosing !== '/') stack.push(name);
  }
  if (!textOk(text.slice(last))) return 'bad text after the last tag';
  if (stack.length > 0) return `unclosed <${stack.at(-1)}>`;
  return roots === 1 ? '' : 'no root element';
}
