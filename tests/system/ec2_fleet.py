# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Launches a fleet of EC2 instances on an emulated EC2 API, for the inventory test.

Runs under .venv/ec2's python, where boto3 is (the test's own venv has none)::

    .venv/ec2/bin/python tests/system/ec2_fleet.py http://127.0.0.1:PORT eu-west-1 < fleet.json

The fleet on stdin is a list of instances, each ``{"image": FAMILY, "tags": {...},
"state": "running" | "stopped"}``; every family gets an AMI of its own, registered first.
Prints the same list with each instance's ``id`` and ``image_id`` added, in the same order.
"""

from __future__ import annotations

import json
import sys

import boto3

#: AMI names as their publishers spell them, so the images look like the real families.
IMAGE_NAMES = {
    'debian': 'debian-12-amd64-20260101-0000',
    'ubuntu': 'ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-20260101',
    'amazon': 'al2023-ami-2023.9.20260101.0-kernel-6.1-x86_64',
    'rhel': 'RHEL-9.6.0_HVM-20260101-x86_64-0-Hourly2-GP3',
}


def launch(endpoint, region, fleet):
    ec2 = boto3.client('ec2', endpoint_url=endpoint, region_name=region)
    images = {}
    for family in sorted({wanted['image'] for wanted in fleet}):
        images[family] = ec2.register_image(
            Name=IMAGE_NAMES[family], Architecture='x86_64', RootDeviceName='/dev/xvda',
            VirtualizationType='hvm')['ImageId']
    launched = []
    for wanted in fleet:
        tags = [{'Key': key, 'Value': value} for key, value in wanted['tags'].items()]
        spec = [{'ResourceType': 'instance', 'Tags': tags}] if tags else []
        (instance,) = ec2.run_instances(ImageId=images[wanted['image']], InstanceType='t3.micro',
                                        MinCount=1, MaxCount=1, TagSpecifications=spec)['Instances']
        launched.append(dict(wanted, id=instance['InstanceId'], image_id=images[wanted['image']]))
    stopped = [instance['id'] for instance in launched if instance['state'] == 'stopped']
    if stopped:
        ec2.stop_instances(InstanceIds=stopped)
    return launched


def main():
    endpoint, region = sys.argv[1:]
    json.dump(launch(endpoint, region, json.load(sys.stdin)), sys.stdout)


if __name__ == '__main__':
    main()
