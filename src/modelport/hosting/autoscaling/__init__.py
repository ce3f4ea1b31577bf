"""Application Auto Scaling for endpoint variants, on hosting's port (boto3's ``application-autoscaling`` client):
scalable targets and target-tracking policies kept in the registry database (:mod:`.store`), checked and
answered as AWS does (:mod:`.api`, :mod:`.policies`), and evaluated on hosting's loop every
``MODELPORT_HOSTING_AUTOSCALING_INTERVAL`` seconds (:mod:`.scaler`), which scales the variant's fleet."""
