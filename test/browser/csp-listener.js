// Loaded before anything else on the test pages: records every CSP violation the page reports.
globalThis.violations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  globalThis.violations.push(
    `${event.violatedDirective}: ${event.blockedURI || "inline"} (${event.sourceFile}:${event.lineNumber})`,
  );
});
