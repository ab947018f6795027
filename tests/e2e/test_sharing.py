"""A lab admin shares a project with another lab in the browser; that lab's member then sees
it in their project list and can open it; after revocation it is gone again."""

from __future__ import annotations

import pytest


@pytest.mark.django_db(transaction=True)
def test_admin_shares_project_and_other_lab_member_sees_it(
    browser, live_server, login, alice, carol, project
):
    admin_ctx = browser.new_context(base_url=live_server.url)
    admin_ctx.set_default_timeout(15_000)
    admin = admin_ctx.new_page()
    member_ctx = browser.new_context(base_url=live_server.url)
    member_ctx.set_default_timeout(15_000)
    member = member_ctx.new_page()
    try:
        login(member, live_server, "carol", "pw-carol")
        member.goto(f"{live_server.url}/projects/")
        assert member.locator("[data-testid=projects]").inner_text().count(project.name) == 0

        login(admin, live_server, "alice", "pw-alice")
        admin.goto(f"{live_server.url}/labs/projects/{project.pk}/sharing/")
        admin.fill("[data-testid=share-lab]", "kato")
        admin.select_option("[data-testid=share-level]", "view")
        admin.click("[data-testid=share-submit]")
        admin.wait_for_selector("[data-testid=share-kato]")
        assert "View" in admin.locator("[data-testid=share-kato]").inner_text()

        member.goto(f"{live_server.url}/projects/")
        member.click(f"[data-testid=projects] a:text-is('{project.name}')")
        member.wait_for_url(f"**/projects/{project.pk}/")
        assert project.name in member.locator("h1").inner_text()

        admin.click("[data-testid=share-kato] button:text-is('Revoke')")
        admin.wait_for_selector("[data-testid=share-kato]", state="detached")
        response = member.goto(f"{live_server.url}/projects/{project.pk}/")
        assert response.status == 404
    finally:
        admin_ctx.close()
        member_ctx.close()
