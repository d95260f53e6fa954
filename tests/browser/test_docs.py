"""/docs renders the API's operations in a real browser, from assets the app serves itself."""
from playwright.sync_api import expect


def test_docs_render_every_tag_and_operation_without_leaving_the_app(same_origin_page):
    page = same_origin_page
    spec = page.request.get("/openapi.json").json()
    operation_count = sum(1 for item in spec["paths"].values() for method in item
                          if method in ("get", "post", "put", "patch", "delete"))

    page.goto("/docs")

    expect(page.locator(".swagger-ui .info .title")).to_contain_text(spec["info"]["title"])
    expect(page.locator(".opblock")).to_have_count(operation_count)
    expect(page.locator(".opblock-summary-path[data-path='/v1/members']").first).to_be_visible()
    expect(page.get_by_role("button", name="Authorize")).to_be_visible()


def test_docs_assets_are_the_pinned_copy_served_by_the_app(page):
    response = page.request.get("/docs")
    assert response.ok and "text/html" in response.headers["content-type"]
    html = response.text()
    assert "/static/swagger-ui/swagger-ui-bundle.js" in html and "//cdn" not in html
    bundle = page.request.get("/static/swagger-ui/swagger-ui-bundle.js")
    assert bundle.ok and "javascript" in bundle.headers["content-type"]
    assert page.request.get("/static/swagger-ui/LICENSE").ok
