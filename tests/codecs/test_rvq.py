import torch

from audiolm_lib.codecs.rvq import ResidualVQ, VectorQuantizer, kmeans


def _clustered_data(num_points=512, dim=8, centres=16, seed=0):
    gen = torch.Generator().manual_seed(seed)
    means = torch.randn(centres, dim, generator=gen) * 3
    labels = torch.randint(0, centres, (num_points,), generator=gen)
    return means[labels] + 0.05 * torch.randn(num_points, dim, generator=gen), means


def test_codes_in_range_and_shapes():
    rvq = ResidualVQ(dim=8, num_quantizers=4, codebook_size=32).train()
    x = torch.randn(2, 8, 25)
    out = rvq(x)
    assert out.codes.shape == (2, 4, 25) and out.quantized.shape == x.shape
    assert out.codes.min() >= 0 and out.codes.max() < 32
    assert out.perplexity.shape == (4,) and torch.all(out.perplexity >= 1) and torch.all(out.perplexity <= 32)
    assert torch.isfinite(out.commitment_loss)
    rvq.eval()
    codes = rvq.encode(x)
    assert codes.shape == (2, 4, 25)
    # eval-mode forward and encode agree, decode(encode) reproduces the quantized vectors
    assert torch.equal(rvq(x).codes, codes)
    torch.testing.assert_close(rvq.decode(codes), rvq(x).quantized)


def test_residual_error_shrinks_with_levels():
    rvq = ResidualVQ(dim=8, num_quantizers=6, codebook_size=64).train()
    x = torch.randn(4, 8, 128)
    for _ in range(3):
        rvq(x)  # k-means init + EMA updates on this data
    rvq.eval()
    codes = rvq.encode(x)
    errors = [(rvq.decode(codes[:, :q]) - x).pow(2).mean().item() for q in range(1, 7)]
    assert all(later < earlier for earlier, later in zip(errors, errors[1:])), errors
    assert errors[-1] < 0.5 * errors[0]


def test_kmeans_init_finds_clusters():
    data, means = _clustered_data()
    vq = VectorQuantizer(dim=8, codebook_size=64, kmeans_iterations=20).train()
    assert not bool(vq.initialized)
    random_error = (data - vq.codebook[vq.nearest(data)]).pow(2).mean()
    vq(data.t()[None])  # [1, D, N]
    assert bool(vq.initialized)
    # (nearly) every true centre has a code close to it, and the quantization error collapses
    nearest = torch.cdist(means, vq.codebook).min(dim=1).values
    assert (nearest < 0.5).float().mean() >= 0.8
    error = (data - vq.codebook[vq.nearest(data)]).pow(2).mean()
    assert error < 0.01 * random_error
    centroids = kmeans(data, 16, iterations=20)
    assert centroids.shape == (16, 8)


def test_ema_update_moves_codebook_towards_assigned_mean():
    vq = VectorQuantizer(dim=2, codebook_size=2, decay=0.5, dead_code_threshold=0.0).train()
    vq.initialized.fill_(True)
    vq.codebook.copy_(torch.tensor([[0.0, 0.0], [10.0, 10.0]]))
    vq.embed_sum.copy_(vq.codebook)
    vq.cluster_size.fill_(1.0)
    points = torch.tensor([[1.0, 1.0], [1.0, 1.0]])  # both assigned to code 0
    vq(points.t()[None])
    # cluster_size[0] = 0.5*1 + 0.5*2 = 1.5; embed_sum[0] = 0.5*0 + 0.5*(2,2) = (1,1) -> code ~ (2/3, 2/3)
    assert torch.allclose(vq.cluster_size, torch.tensor([1.5, 0.5]))
    assert torch.allclose(vq.codebook[0], torch.tensor([2 / 3, 2 / 3]), atol=1e-3)
    assert torch.allclose(vq.codebook[1], torch.tensor([10.0, 10.0]), atol=1e-3)


def test_dead_codes_are_replaced_by_batch_vectors():
    vq = VectorQuantizer(dim=2, codebook_size=4, decay=0.5, dead_code_threshold=0.6).train()
    vq.initialized.fill_(True)
    vq.codebook.copy_(torch.tensor([[0.0, 0.0], [100.0, 100.0], [200.0, 200.0], [300.0, 300.0]]))
    vq.embed_sum.copy_(vq.codebook)
    vq.cluster_size.fill_(1.0)
    points = torch.randn(64, 2) * 0.1
    vq(points.t()[None])
    # codes 1..3 got no vectors: usage 0.5 < 0.6 -> re-seeded from the batch (near the origin)
    assert vq.codebook[1:].abs().max() < 1.0
    assert torch.all(vq.cluster_size >= 0.6)


def test_invalid_level_count_is_a_clear_error():
    rvq = ResidualVQ(dim=4, num_quantizers=3, codebook_size=8)
    try:
        rvq.decode(torch.zeros(1, 4, 5, dtype=torch.long))
    except ValueError as exc:
        assert "1..3" in str(exc)
    else:
        raise AssertionError("expected ValueError")
