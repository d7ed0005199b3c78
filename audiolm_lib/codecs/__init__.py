"""Acoustic codecs (audio <-> RVQ codes ``LongTensor[B, Q, F]``), all trained by ``audiolm train codec``.

* :mod:`~audiolm_lib.codecs.spectral` - ``SpectralCodec``, the default and shipped codec: STFT in, ConvNeXt
  blocks at the 50 Hz code rate, residual quantizer, magnitude head, phase reconstructed (or learned);
* :mod:`~audiolm_lib.codecs.soundstream` - ``SoundStream``: the paper's convolutional codec (GAN training);
* :mod:`~audiolm_lib.codecs.encodec` - ``EncodecCodec``: Meta's EnCodec from a local checkpoint (not trained here);
* :mod:`~audiolm_lib.codecs.rvq` / :mod:`~audiolm_lib.codecs.fsq` - residual vector / scalar quantizers;
* :mod:`~audiolm_lib.codecs.losses` / :mod:`~audiolm_lib.codecs.phase_losses` /
  :mod:`~audiolm_lib.codecs.discriminators` - what the codec objectives are made of.
"""
