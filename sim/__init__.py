"""spikestream.sim"""
