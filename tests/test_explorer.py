import shutil
import socket

import numpy as np
import pytest

from notellm_hf.explorer import build_explorer, explore

from conftest import TOY_NOTES_BY_ID, free_port, hand_lent_tags, saved_model, toy_benchmark_set

POOL = ["guitar", "piano", "run", "swim"]  # the toy set's test pool
PASTED = {"title": "Jazz piano evening", "content": "chords, scales and a small concert hall"}


@pytest.fixture(scope="module")
def explorer_setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("explorer")
    folder, model, tokenizer = saved_model(root / "model")
    data = toy_benchmark_set(root / "set")
    embeddings = model.encode_notes(tokenizer, [TOY_NOTES_BY_ID[i] for i in POOL]).numpy()
    return root, model, tokenizer, embeddings, build_explorer(folder, data, k=3, precision="fp32")


def ranked(query: np.ndarray, embeddings: np.ndarray, skip: str | None = None) -> list[str]:
    return [POOL[i] for i in np.argsort(-(embeddings @ query), kind="stable") if POOL[i] != skip]


def table_ids(markdown: str) -> list[str]:
    rows = [line for line in markdown.splitlines() if line.startswith("| ") and "`" in line]
    return [row.split("`")[1] for row in rows]


def test_a_note_of_the_set_shows_its_nearest_pool_notes_with_the_known_ones_marked(explorer_setup):
    _, _, _, embeddings, explorer = explorer_setup
    description, related, baseline = explorer.show_note("guitar")
    assert table_ids(related) == ranked(embeddings[0], embeddings, skip="guitar")
    marked = [row.split("`")[1] for row in related.splitlines() if row.endswith("| yes |")]
    assert marked == ["piano"]  # the toy test pair (guitar, piano)
    assert "true category: `Music`" in description and "generated category" in description and baseline == ""
    # The tags its 3 related notes lend, counted by hand: each votes its cosine (when positive) for each of its tags.
    hits = [(note_id, float(embeddings[POOL.index(note_id)] @ embeddings[0])) for note_id in table_ids(related)]
    tags = {note_id: note["hashtags"] for note_id, note in TOY_NOTES_BY_ID.items()}
    lent = ", ".join(hand_lent_tags(hits, tags)) or "-"
    assert f"- hashtags its 3 related notes carry: {lent}" in description


def test_the_page_finds_related_notes_for_a_pasted_note_in_a_real_browser(explorer_setup):
    from selenium import webdriver
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.expected_conditions import element_to_be_clickable as clickable
    from selenium.webdriver.support.expected_conditions import visibility_of_element_located as visible
    from selenium.webdriver.support.ui import WebDriverWait

    root, model, tokenizer, embeddings, explorer = explorer_setup
    browser, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    assert browser and driver_path, "chromium and chromium-driver are missing: `make test` installs them"
    port = free_port()
    page = explorer.app()
    page.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=driver_path))
    try:
        driver.get(f"http://127.0.0.1:{port}/")
        wait = WebDriverWait(driver, 60)
        # Gradio renders each tab button twice (one copy hidden for overflow): click the visible one.
        tabs = wait.until(
            lambda d: [b for b in d.find_elements(By.XPATH, "//button[.='A new note']") if b.is_displayed()]
        )
        tabs[0].click()
        wait.until(visible((By.CSS_SELECTOR, "#new-title textarea, #new-title input")))
        driver.find_element(By.CSS_SELECTOR, "#new-title textarea, #new-title input").send_keys(PASTED["title"])
        driver.find_element(By.CSS_SELECTOR, "#new-content textarea").send_keys(PASTED["content"])
        # Waited for, not looked up: on a busy CPU the page may still be rendering the button.
        wait.until(clickable((By.CSS_SELECTOR, "#new-run"))).click()
        rows = wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#new-related table tbody tr") or None)
        driver.save_screenshot(str(root / "explorer.png"))
        shown = [" ".join(row.find_elements(By.TAG_NAME, "td")[1].text.split()) for row in rows]
        description = driver.find_element(By.CSS_SELECTOR, "#new-description").text
    finally:
        driver.quit()
        page.close()
    query = model.encode_notes(tokenizer, [{"note_id": "new note", **PASTED}]).numpy()[0]
    expected = ranked(query, embeddings)[:3]
    assert [cell.rsplit("(", 1)[1].strip(" )") for cell in shown] == expected
    assert shown[0].startswith(TOY_NOTES_BY_ID[expected[0]]["title"])
    assert "generated category" in description
    assert (root / "explorer.png").stat().st_size > 10_000


def test_a_port_in_use_is_a_named_error(explorer_setup, tmp_path):
    root = explorer_setup[0]
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        with pytest.raises(ValueError, match=f"port {port} on 127.0.0.1 is in use"):
            explore(root / "model", root / "set", port=port, block=False)
