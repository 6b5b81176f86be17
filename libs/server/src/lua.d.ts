/** Redis scripts, imported as their source text (esbuild's text loader; a jest transform in tests). */
declare module '*.lua' {
  const source: string;
  export default source;
}
