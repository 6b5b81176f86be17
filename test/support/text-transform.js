// Jest transform for files imported as text (the .lua Redis scripts), as esbuild's text loader
// bundles them: the module is the file's source (esModuleInterop makes it the default import).
module.exports = {
  process(source) {
    return { code: `module.exports = ${JSON.stringify(source)};` };
  },
};
