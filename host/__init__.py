"""spikestream.host"""
