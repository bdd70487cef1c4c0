"""Tests for the local sentence-transformers embedder (`st:DIR`) of pipeline/embedding.py.

The model is a tiny randomly initialised BERT built here in a temporary folder: nothing is
downloaded (conftest sets HF_HUB_OFFLINE). Its vectors mean nothing, but they are real model
outputs, so the loading path, dimensions, determinism, index round trip and the refusal to mix
embedders are all exercised for real. Only the counties, towns and people below are invented.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip(
    "sentence_transformers",
    reason="sentence-transformers 未安装：跳过本地向量模型（st:目录）测试；pip install 'shuzhi[st]' 后可运行",
)

from pipeline.cli import run  # noqa: E402 - after the skip guard, like the imports it needs
from pipeline.errors import UsageError  # noqa: E402
from pipeline.index.embedding import SentenceTransformerEmbedder, resolve_embedder  # noqa: E402
from pipeline.index.hybrid import HybridIndex  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
HIDDEN = 32

CENBU_2023 = """岑埠县2023年度党管武装工作述职报告
2023年以来，在市委和军分区党委的正确领导下，我认真履行县人武部党委第一书记职责，岑埠县党管武装工作稳步推进。现将履职情况报告如下：
一、强化政治引领，压实党管武装责任
一是坚持学习强军思想。组织县委理论学习中心组专题学习国防理论3次。二是坚持议军会制度。召开议军会2次，协调解决营区改造等问题5个。
二、聚焦主责主业，抓实民兵征兵任务
一是扎实开展民兵整组。完成9个乡镇民兵整组，基干民兵编组860人。二是高质量完成征兵任务。在2所高中设立征兵工作站，输送合格青年132人。
三、夯实基础保障，提升建设水平
一是落实经费保障。县财政安排武装工作经费48万元。二是加强国防教育。开展国防教育进校园活动16场次。
我的述职完毕，请各位领导批评指正。
"""

YANGQIAO_2022 = """漾桥区2022年度党管武装工作述职报告
2022年，在市委和军分区党委的坚强领导下，我坚持把党管武装作为分内之事，漾桥区武装工作稳中有进。现将有关情况报告如下：
一、坚持学习领会，增强履职本领
一是带头学习。全年参加理论学习中心组学习4次。二是带头调研。深入街道武装部调研6次，现场解决训练场地难题。
二、坚持真抓实干，落实各项制度
一是民兵应急连建设规范。组建民兵应急连2个，开展夜间拉动演练。二是退役军人服务保障到位。妥善安置退役士兵41名。
三、坚持固本强基，夯实保障基础
一是投入人武部基础设施资金95万元。二是举办国防知识竞赛，参赛群众两千余人。
我的述职完毕，请各位领导批评指正。
"""

LUTING_2024 = """芦汀镇2024年度党管武装工作述职报告
2024年，在县委和县人武部的指导下，我履行镇党委书记抓武装工作第一责任人职责，芦汀镇武装工作有新提升。现将情况报告如下：
一、抓思想教育，筑牢国防观念
一是组织镇村干部学习国防动员知识2次。二是在集镇张贴征兵宣传海报，走村入户讲解兵役政策。
二、抓民兵建设，提升应急能力
一是完成民兵整组，编组基干民兵75人。二是组织民兵参加防汛抢险演练，转移群众三百余人。
我的述职完毕，请各位领导批评指正。
"""

REPORTS = {"cenbu-2023.txt": CENBU_2023, "yangqiao-2022.txt": YANGQIAO_2022, "luting-2024.txt": LUTING_2024}


def _cjk(text: str) -> set[str]:
    return {ch for ch in text if "\u4e00" <= ch <= "\u9fff"}


def _decode(data: bytes) -> str:
    # The corpus holds UTF-8 and GB18030 files (DOMAIN.md); only the characters matter here.
    for encoding in ("utf-8", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return ""


@pytest.fixture(scope="module")
def st_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A saved sentence-transformers model: random 1-layer BERT (hidden 32) + mean pooling."""
    import torch
    from sentence_transformers import SentenceTransformer
    from transformers import BertConfig, BertModel, BertTokenizerFast

    try:        # sentence-transformers ≥ 6 moved the modules; older releases keep `models`
        from sentence_transformers.sentence_transformer import modules
    except ImportError:
        from sentence_transformers import models as modules

    root = tmp_path_factory.mktemp("st-model")
    hf_dir, st_dir = root / "hf", root / "st"
    hf_dir.mkdir()
    # BERT tokenizes Chinese one character per token: a vocabulary of the characters of the
    # corpus (and of the reports here, so none of their characters is [UNK]) is enough.
    chars: set[str] = set()
    for path in sorted((ROOT / "corpus" / "reports").glob("*.txt")):
        chars |= _cjk(_decode(path.read_bytes()))
    for text in REPORTS.values():
        chars |= _cjk(text)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *"0123456789", *sorted(chars)]
    (hf_dir / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    # Positional: transformers 4 names it vocab_file, 5 names it vocab (and ignores vocab_file=).
    tokenizer = BertTokenizerFast(str(hf_dir / "vocab.txt"))
    tokenizer.save_pretrained(hf_dir)

    torch.manual_seed(20231)
    config = BertConfig(vocab_size=len(vocab), hidden_size=HIDDEN, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=256)
    BertModel(config).save_pretrained(hf_dir)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")        # deprecation chatter of the model-building API only
        transformer = modules.Transformer(str(hf_dir), max_seq_length=256)
        model = SentenceTransformer(modules=[transformer, modules.Pooling(HIDDEN)], device="cpu")
        model.save(str(st_dir))
    assert (st_dir / "modules.json").is_file()
    return st_dir


@pytest.fixture
def reports(tmp_path: Path) -> Path:
    folder = tmp_path / "reports"
    folder.mkdir()
    for name, text in REPORTS.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


# --------------------------------------------------------------------------- the embedder


def test_saved_model_tokenizes_corpus_characters(st_dir: Path) -> None:
    # Guards the fixture: if every character were [UNK], all vectors would be equal and the
    # tests below would prove nothing.
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(st_dir), local_files_only=True)
    ids = tokenizer("民兵整组征兵宣传", add_special_tokens=False)["input_ids"]
    assert len(ids) == 8 and tokenizer.unk_token_id not in ids


def test_resolve_st_embeds_with_the_model_dimension(st_dir: Path) -> None:
    emb = resolve_embedder(f"st:{st_dir}")
    assert isinstance(emb, SentenceTransformerEmbedder)
    assert emb.name == f"st:{st_dir.resolve()}"

    texts = ["扎实开展民兵整组", "高质量完成征兵任务", "加强国防教育"]
    docs = emb.embed_documents(texts)
    assert docs.shape == (3, HIDDEN) and docs.dtype == np.float32
    assert emb.dim == HIDDEN                      # known once the model is loaded
    assert np.allclose(np.linalg.norm(docs, axis=1), 1.0, atol=1e-5)
    # Different texts, different vectors (the random model still reads its input).
    assert not np.allclose(docs[0], docs[1]) and not np.allclose(docs[1], docs[2])

    query = emb.embed_query("高质量完成征兵任务")
    assert query.shape == (HIDDEN,)
    assert np.allclose(query, docs[1], atol=1e-5)

    # Deterministic: the same model again, and a fresh load from disk, give the same vectors.
    assert np.array_equal(emb.embed_documents(texts), docs)
    again = resolve_embedder(f"st:{st_dir}").embed_documents(texts)
    assert np.allclose(again, docs, atol=1e-6)


def test_st_embedder_of_an_empty_batch(st_dir: Path) -> None:
    emb = resolve_embedder(f"st:{st_dir}")
    emb.embed_query("民兵")                       # loaded: the dimension is known
    assert emb.embed_documents([]).shape == (0, HIDDEN)


def test_folder_that_is_not_a_model_is_a_usage_error(tmp_path: Path, reports: Path, capsys) -> None:
    not_a_model = tmp_path / "not-a-model"
    not_a_model.mkdir()
    (not_a_model / "readme.txt").write_text("这里没有模型文件", encoding="utf-8")
    code = run(["ingest", str(reports), "--index", str(tmp_path / "idx"), "--embedder", f"st:{not_a_model}"])
    err = capsys.readouterr().err
    assert code != 0 and "not-a-model" in err and "不是可用的 sentence-transformers 模型文件夹" in err
    assert not (tmp_path / "idx").exists()


# --------------------------------------------------------------------------- the index


def test_index_with_st_embedder_searches_and_refuses_mixing(st_dir: Path, reports: Path,
                                                           tmp_path: Path) -> None:
    spec = f"st:{st_dir}"
    idx = tmp_path / "idx"
    index = HybridIndex.open(idx, embedder=spec)
    summary = index.ingest([reports])
    assert len(summary.added) == 3 and not summary.failed and summary.chunks > 3
    state = json.loads((idx / "state.json").read_text(encoding="utf-8"))
    assert state["embedder"] == f"st:{st_dir.resolve()}"

    # Read back without naming the embedder: the index's own (recorded) one is used.
    reader = HybridIndex.open(idx, read_only=True)
    assert reader.embedder_name == state["embedder"]
    chunks = reader.all_chunks()
    target = next(c for c in chunks if "民兵应急连" in c.text)

    vector_hits = reader.search(target.text, k=3, mode="vector")
    assert 1 <= len(vector_hits) <= 3
    assert all(h.vector_rank is not None and h.bm25_rank is None for h in vector_hits)
    # A chunk's own text embeds to the chunk's own vector: cosine 1, so it ranks first.
    assert vector_hits[0].chunk.chunk_id == target.chunk_id

    hybrid_hits = reader.search("民兵应急连夜间拉动演练", k=3, mode="hybrid")
    assert hybrid_hits and hybrid_hits[0].chunk.chunk_id == target.chunk_id
    assert any(h.vector_rank is not None for h in hybrid_hits)

    filtered = reader.search("民兵整组", k=5, mode="vector", region="芦汀镇")
    assert filtered and {h.chunk.region for h in filtered} == {"芦汀镇"}

    # The default hash embedder may not add to it, nor query it: vectors are never mixed.
    before = (idx / "state.json").read_text(encoding="utf-8")
    with pytest.raises(UsageError, match="--rebuild") as refused:
        HybridIndex.open(idx, embedder="hash").ingest([reports])
    assert "hash-v1" in str(refused.value) and state["embedder"] in str(refused.value)
    assert (idx / "state.json").read_text(encoding="utf-8") == before
    with pytest.raises(UsageError, match="不能用"):
        HybridIndex.open(idx, embedder="hash", read_only=True).search("民兵整组", mode="vector")

    # With --rebuild the switch is allowed and the index records the new embedder.
    rebuilt = HybridIndex.open(idx, embedder="hash").ingest([reports], rebuild=True)
    assert len(rebuilt.added) == 3
    assert HybridIndex.open(idx, read_only=True).embedder_name.startswith("hash-v1")


# --------------------------------------------------------------------------- the CLI


def test_cli_ingest_and_search_with_st_embedder(st_dir: Path, reports: Path, tmp_path: Path, capsys) -> None:
    idx = str(tmp_path / "idx")
    assert run(["ingest", str(reports), "--index", idx, "--embedder", f"st:{st_dir}", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert len(summary["added"]) == 3 and not summary["failed"]

    for mode in ("vector", "hybrid"):
        assert run(["search", "征兵工作站", "--index", idx, "--mode", mode, "-k", "2", "--json"]) == 0
        hits = json.loads(capsys.readouterr().out)
        assert 1 <= len(hits) <= 2 and all(h["chunk_id"] for h in hits)
    assert "征兵工作站" in hits[0]["text"]          # hybrid: BM25 pins the only chunk that says it

    # Adding with the default embedder is refused with a message that names the fix.
    code = run(["ingest", str(reports), "--index", idx, "--embedder", "hash"])
    err = capsys.readouterr().err
    assert code != 0 and "--rebuild" in err and "不能混入" in err

    # A missing model folder is a usage error, not a traceback or a download attempt.
    code = run(["ingest", str(reports), "--index", str(tmp_path / "other"), "--embedder",
                f"st:{tmp_path / 'no-model'}"])
    assert code != 0 and "向量模型目录不存在" in capsys.readouterr().err
