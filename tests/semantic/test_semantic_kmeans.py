"""k-means fit / save / load / assign and run-length dedupe."""
import numpy as np
import pytest
import torch

from audiolm_lib.semantic.kmeans import KMeans, dedupe, fit_kmeans, undedupe
from audiolm_lib.serialization import CheckpointError


def _blobs(num_per=400, seed=0):
    rng = np.random.default_rng(seed)
    centers = np.array([[0, 0, 0], [10, 0, 0], [0, 10, 0], [0, 0, 10]], np.float32)
    points = np.concatenate([c + 0.3 * rng.standard_normal((num_per, 3)) for c in centers]).astype(np.float32)
    labels = np.repeat(np.arange(4), num_per)
    order = rng.permutation(len(points))
    return centers, points[order], labels[order]


def test_streaming_fit_recovers_well_separated_clusters():
    centers, points, labels = _blobs()
    stream = (torch.from_numpy(points[i : i + 150]) for i in range(0, len(points), 150))  # blocks != batches
    kmeans = fit_kmeans(stream, num_clusters=4, batch_frames=200, seed=0, progress=False)
    found = kmeans.centroids.numpy()
    # each true centre has a fitted centroid within 0.2
    dist = np.linalg.norm(found[:, None] - centers[None], axis=-1)
    assert np.sort(dist.min(axis=0)).max() < 0.2
    ids = kmeans.assign(torch.from_numpy(points)).numpy()
    # a cluster id maps to exactly one true label
    assert all(len(set(labels[ids == k])) == 1 for k in range(4))


def test_assign_equals_brute_force_cdist_argmin():
    kmeans = KMeans(37, 8, torch.randn(37, 8))
    features = torch.randn(3, 101, 8)
    expected = torch.cdist(features.reshape(-1, 8), kmeans.centroids).argmin(dim=1).reshape(3, 101)
    assert torch.equal(kmeans.assign(features, chunk_frames=50), expected)
    assert kmeans.assign(features).dtype == torch.long


def test_save_load_round_trip(tmp_path):
    kmeans = KMeans(5, 4, torch.randn(5, 4))
    path = kmeans.save(tmp_path / "km", extra={"features": "mfcc"})
    assert path.name == "km.npy" and (tmp_path / "km.json").exists()
    loaded = KMeans.load(path)
    assert torch.equal(loaded.centroids, kmeans.centroids)
    np.save(tmp_path / "km.npy", np.zeros((6, 4), np.float32))  # header now disagrees
    with pytest.raises(CheckpointError, match="5x4"):
        KMeans.load(tmp_path / "km.npy")
    with pytest.raises(CheckpointError, match="not found"):
        KMeans.load(tmp_path / "missing.npy")


def test_too_few_frames_and_dimension_mismatch_are_clear_errors():
    with pytest.raises(ValueError, match="only 3 feature frames"):
        fit_kmeans([torch.randn(3, 2)], num_clusters=8, progress=False)
    with pytest.raises(ValueError, match="no feature frames"):
        fit_kmeans([], num_clusters=8, progress=False)
    with pytest.raises(ValueError, match="dimension 3"):
        KMeans(4, 2).assign(torch.randn(5, 3))


def test_few_frames_per_cluster_warn_and_the_progress_total_is_the_real_one(monkeypatch):
    import tqdm.auto

    totals = []
    real_tqdm = tqdm.auto.tqdm
    monkeypatch.setattr(tqdm.auto, "tqdm", lambda *a, **k: totals.append(k.get("total")) or real_tqdm(*a, **k))
    with pytest.warns(UserWarning, match=r"50 clusters on only 200 frames \(4.0 per cluster"):
        fit_kmeans([torch.randn(200, 3)], num_clusters=50, progress=False, total_frames=200)
    assert totals == [200]
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # enough frames: no warning
        fit_kmeans([torch.randn(200, 3)], num_clusters=4, progress=False)
    assert totals[-1] is None  # unknown length: no made-up total


def test_dedupe_round_trip():
    tokens = torch.tensor([3, 3, 3, 1, 1, 7, 3, 3, 0])
    unique, runs = dedupe(tokens)
    assert unique.tolist() == [3, 1, 7, 3, 0] and runs.tolist() == [3, 2, 1, 2, 1]
    assert torch.equal(undedupe(unique, runs), tokens)
    empty_tokens, empty_runs = dedupe(torch.zeros(0, dtype=torch.long))
    assert empty_tokens.numel() == 0 and empty_runs.numel() == 0
    with pytest.raises(ValueError, match="one sequence"):
        dedupe(tokens[None])


def test_faiss_path_trains_on_a_bounded_reservoir(monkeypatch):
    """faiss is optional; a stand-in with faiss.Kmeans' interface checks the reservoir path."""
    import sys
    import types

    seen_shapes = []

    class FakeFaissKmeans:
        def __init__(self, dim, k, niter, seed, verbose):
            self.k = k

        def train(self, sample):
            from sklearn.cluster import KMeans as SkKMeans

            seen_shapes.append(sample.shape)
            self.centroids = SkKMeans(self.k, n_init=3, random_state=0).fit(sample).cluster_centers_.astype(np.float32)

    monkeypatch.setitem(sys.modules, "faiss", types.SimpleNamespace(Kmeans=FakeFaissKmeans))
    centers, points, _ = _blobs(num_per=300)
    stream = (torch.from_numpy(points[i : i + 100]) for i in range(0, len(points), 100))
    kmeans = fit_kmeans(stream, num_clusters=4, batch_frames=64, max_frames=500, progress=False)
    assert seen_shapes == [(500, 3)]  # 1200 frames streamed, 500 kept
    dist = np.linalg.norm(kmeans.centroids.numpy()[:, None] - centers[None], axis=-1)
    assert dist.min(axis=0).max() < 0.3
