"""spikestream.boards"""
