// Starts the Swagger UI on ringd's own document. No validator: its badge is
// an image from the internet, and this page loads nothing from elsewhere.
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "doc.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
});
