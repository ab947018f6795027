"""A user logs in through the real login form in Chromium and sees their name."""

import pytest


@pytest.mark.django_db(transaction=True)
def test_member_logs_in_and_sees_their_name(browser_page, live_server, login, bob):
    login(browser_page, live_server, "bob", "pw-bob")
    assert browser_page.locator("[data-testid=whoami]").inner_text() == "bob"


@pytest.mark.django_db(transaction=True)
def test_wrong_password_shows_an_error(browser_page, live_server, bob):
    browser_page.goto(f"{live_server.url}/login/")
    browser_page.fill("input[name=username]", "bob")
    browser_page.fill("input[name=password]", "wrong")
    browser_page.click("main form.login button[type=submit]")
    assert browser_page.locator("[data-testid=login-error]").is_visible()
    assert browser_page.locator("[data-testid=whoami]").count() == 0


@pytest.mark.django_db(transaction=True)
def test_log_out_returns_to_the_login_page(browser_page, live_server, login, bob):
    login(browser_page, live_server, "bob", "pw-bob")
    browser_page.click("header form button[type=submit]")
    browser_page.wait_for_url(f"{live_server.url}/login/")
    assert browser_page.locator("[data-testid=whoami]").count() == 0
    browser_page.goto(f"{live_server.url}/projects/")
    assert browser_page.url.startswith(f"{live_server.url}/login/?next=")
