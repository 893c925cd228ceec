"""MovieLens layouts on tiny hand-made folders, one per layout (ml-1m has no shared copy)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from streamrec.errors import InvalidInput
from streamrec.importers.movielens import detect_layout, read_movielens
from streamrec.types import Event

FileWriter = Callable[..., Path]


def _flags(*indices: int) -> str:
    flags = ["0"] * 19
    for index in indices:
        flags[index] = "1"
    return "|".join(flags)


@pytest.fixture
def ml_100k(write_file: FileWriter) -> Path:
    write_file("ml-100k/u.data", "1\t10\t4\t300\n2\t10\t5\t100\n1\t20\t3\t100\n")
    write_file("ml-100k/u.item",
               f"10|Amélie (2001)|01-Jan-2001||http://x|{_flags(5, 14)}\n"
               f"20|unknown|||http://y|{_flags(0)}\n"
               f"30|Heat|15-Dec-1995||http://z|{_flags(1, 6, 16)}\n", encoding="latin-1")
    return write_file("ml-100k/u.genre", "".join(
        f"{name}|{index}\n" for index, name in enumerate(
            ["unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
             "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
             "Romance", "Sci-Fi", "Thriller", "War", "Western"])) + "\n").parent


@pytest.fixture
def ml_1m(write_file: FileWriter) -> Path:
    write_file("ml-1m/ratings.dat.gz", "1::1193::5::978300760\n1::661::3::978302109\n"
               "2::1193::4::978300760\n")
    write_file("ml-1m/movies.dat", "1193::One Flew Over the Cuckoo's Nest (1975)::Drama\n"
               "661::James and the Giant Peach (1996)::Animation|Children's|Musical\n"
               "3::Les Misérables (1998)::Drama\n", encoding="latin-1")
    return write_file("ml-1m/users.dat", "1::F::1::10::48067\n").parent


@pytest.fixture
def ml_latest(write_file: FileWriter) -> Path:
    write_file("ml-latest/ratings.csv", "userId,movieId,rating,timestamp\n"
               "1,31,2.5,1260759144\n1,1029,3,1260759179\n7,31,4.5,1260759144\n")
    write_file("ml-latest/movies.csv", "movieId,title,genres\n"
               "31,Dangerous Minds (1995),Drama\n"
               '1029,"American President, The (1995)",Comedy|Drama|Romance\n'
               "5,Babylon 5,(no genres listed)\n")
    return write_file("ml-latest/tags.csv", "userId,movieId,tag,timestamp\n"
                      "15,31,teacher,1\n16,31,Teacher,2\n16,31,inspiring,3\n").parent


def test_layouts_are_told_apart_by_their_ratings_file(ml_100k: Path, ml_1m: Path,
                                                      ml_latest: Path) -> None:
    assert detect_layout(ml_100k) == "ml-100k"
    assert detect_layout(ml_100k / "u.data") == "ml-100k"
    assert detect_layout(ml_1m) == "ml-1m"  # ratings.dat.gz counts
    assert detect_layout(ml_latest) == "ml-latest"


def test_a_folder_without_ratings_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="not a MovieLens folder"):
        detect_layout(tmp_path)
    with pytest.raises(InvalidInput, match="does not exist"):
        detect_layout(tmp_path / "nowhere")


def test_events_are_oldest_first_with_ties_in_file_order(ml_100k: Path) -> None:
    assert list(read_movielens(ml_100k).events()) == [
        Event("2", "10", "rating", 100.0, value=5.0, event_id="ml-2-10-100"),
        Event("1", "20", "rating", 100.0, value=3.0, event_id="ml-1-20-100"),
        Event("1", "10", "rating", 300.0, value=4.0, event_id="ml-1-10-300"),
    ]


def test_100k_items_from_genre_flags(ml_100k: Path) -> None:
    items = {item.item_id: item for item in read_movielens(ml_100k).items()}
    assert items["10"].attributes == {"title": "Amélie (2001)", "genres": ["Comedy", "Romance"],
                                      "year": 2001, "tags": []}
    assert items["10"].text == "Amélie (2001). Comedy, Romance"
    assert items["20"].attributes["genres"] == [] and items["20"].attributes["year"] is None
    assert items["30"].attributes["year"] == 1995  # from the release date
    assert items["30"].attributes["genres"] == ["Action", "Crime", "Thriller"]


def test_1m_layout(ml_1m: Path) -> None:
    data = read_movielens(ml_1m)
    assert [(event.user_id, event.item_id, event.value) for event in data.events()] == [
        ("1", "1193", 5.0), ("2", "1193", 4.0), ("1", "661", 3.0)]
    items = list(data.items())
    assert [item.item_id for item in items] == ["1193", "661", "3"]
    assert items[1].attributes["genres"] == ["Animation", "Children's", "Musical"]
    assert items[2].attributes["title"] == "Les Misérables (1998)"


def test_latest_layout_with_tags(ml_latest: Path) -> None:
    data = read_movielens(ml_latest / "ratings.csv")
    assert [event.value for event in data.events()] == [2.5, 4.5, 3.0]
    items = list(data.items())
    assert items[0].text == "Dangerous Minds (1995). Drama. teacher, inspiring"
    assert items[0].attributes["tags"] == ["teacher", "inspiring"]
    assert items[1].attributes["title"] == "American President, The (1995)"
    assert items[2].attributes == {"title": "Babylon 5", "genres": [], "year": None,
                                   "tags": []}


def test_a_damaged_ratings_line_names_file_line_and_column(ml_100k: Path) -> None:
    (ml_100k / "u.data").write_text("1\t10\t4\t300\n1\tx\t4\t300\n")
    with pytest.raises(InvalidInput, match=r"u.data: line 2: column 'movie': 'x'"):
        list(read_movielens(ml_100k).events())
    (ml_100k / "u.data").write_text("1\t10\t4\n")
    with pytest.raises(InvalidInput, match=r"line 1: 3 fields, expected 4"):
        list(read_movielens(ml_100k).events())
