// Starts Swagger UI on /docs. Served as a static asset (/assets/swagger-init.js) rather than an
// inline script, so the page's Content-Security-Policy allows scripts from this origin only.
// Authorization is kept in memory: persistAuthorization would leave bearer tokens in localStorage,
// where any script on the origin could read them after the tab is closed.
// The page names the document to show in data-spec-url.
window.addEventListener("load", () => {
  const root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    domNode: root,
    url: root.dataset.specUrl,
    persistAuthorization: false,
    displayRequestDuration: true,
  });
});
